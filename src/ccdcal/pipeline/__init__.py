"""ccdcal.pipeline."""
