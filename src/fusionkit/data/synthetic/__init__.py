"""Built-in synthetic cohorts that write real files (CSV, NIfTI, PNG), deterministic per seed."""
