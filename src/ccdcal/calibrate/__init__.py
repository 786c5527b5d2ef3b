"""ccdcal.calibrate."""
