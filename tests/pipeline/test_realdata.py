"""The real UMD SBIG ST-8 night (MaxIm DL headers) reduced end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ccdcal.io.fits import read_ccd
from ccdcal.pipeline import plan_night, run_plan

UMD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "umd-sbig-st8-20250624"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not UMD.is_dir(), reason=f"the UMD night is not at {UMD}"),
]


def test_umd_night_reduces_end_to_end(tmp_path: Path) -> None:
    plan = plan_night(UMD, out_dir=tmp_path / "out")
    # the log and README text files are passed over without a word
    assert not [p for p in plan.problems if p.kind in ("unreadable", "unclassified")]
    assert plan.counts() == {
        "bias": 2, "dark": 2, "flat": 2, "science": 4, "unclassified": 0, "unreadable": 0,
    }  # fmt: skip
    assert [m.key for m in plan.masters] == ["bias_1x1", "dark_1x1_300s", "flat_1x1_clear"]
    assert {Path(s.path).name for s in plan.science} == {
        "UB17-001-c.fit", "UB17-033-c.fit", "fov.fit", "focus.fit",
    }  # fmt: skip
    result = run_plan(plan, executor="serial", library=False)
    assert result.exit_code == 0, result.headline()
    masters = {k: read_ccd(p) for k, p in result.master_paths().items()}
    bias, dark, flat = masters["bias_1x1"], masters["dark_1x1_300s"], masters["flat_1x1_clear"]
    assert float(np.median(bias.data)) == pytest.approx(899, abs=3)  # PROVENANCE.md: ~899 ADU
    assert float(np.median(dark.data)) == pytest.approx(9.5, abs=2)  # ~9.5 ADU in 300 s
    assert dark.meta["EXPTIME"] == 300.0
    for path in result.science_paths():
        ccd = read_ccd(path)
        spec = next(s for s in plan.science if s.output == f"science/{path.name}")
        raw = read_ccd(spec.frame.path).data.astype(np.float64)
        scale = spec.frame.exptime / 300.0
        expected = (raw - bias.data - scale * dark.data) / flat.data
        good = ~ccd.mask
        assert ccd.data.dtype == np.float32
        np.testing.assert_allclose(ccd.data[good], expected[good], rtol=1e-4, atol=0.05)
        # the noise model: EGAIN 2.6 e-/ADU; sigma at least the read noise
        assert float(np.min(ccd.uncertainty.array[good])) > 4.0
