"""ccdcal.library."""
