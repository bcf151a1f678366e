"""The data layer: modality data, image loading, cohorts and splits."""
