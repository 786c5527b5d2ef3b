"""ccdcal.combine."""
