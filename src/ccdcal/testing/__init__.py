"""ccdcal.testing."""
