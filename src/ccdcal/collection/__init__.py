"""ccdcal.collection."""
