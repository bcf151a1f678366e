"""MkDocs hooks: pages generated from the code, so the docs cannot drift from it.

``<!-- fusionkit:config-reference -->`` in a page becomes the config field reference
(`fusionkit.reference.config_reference`), built from the pydantic models at docs build time.
"""

from __future__ import annotations

MARKER = "<!-- fusionkit:config-reference -->"


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    from fusionkit.reference import config_reference

    return markdown.replace(MARKER, config_reference())
