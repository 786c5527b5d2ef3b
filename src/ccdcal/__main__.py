"""``python -m ccdcal``."""

from ccdcal.cli.main import run

run()
