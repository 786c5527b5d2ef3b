"""ccdcal.testing."""

from ccdcal.testing.night import FrameTruth as FrameTruth
from ccdcal.testing.night import NightTruth as NightTruth
from ccdcal.testing.night import load_truth as load_truth
from ccdcal.testing.night import make_night as make_night
