"""ccdcal.report."""
