"""ccdcal.cli."""
