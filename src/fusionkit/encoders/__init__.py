"""Built-in encoder plugins: per-modality feature extractors fitted on training data only."""
