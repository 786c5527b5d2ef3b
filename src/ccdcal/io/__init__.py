"""ccdcal.io."""
