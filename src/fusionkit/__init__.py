"""fusionkit: honest, config-driven comparison of multi-modal medical data fusion."""

from fusionkit.hookspecs import hookimpl

__version__ = "0.2.0"
__all__ = ["__version__", "hookimpl"]
