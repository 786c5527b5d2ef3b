"""Master headers count only the frames that went into the master."""

from __future__ import annotations

from ccdcal.io.fits import read_ccd
from ccdcal.pipeline import RunResult


def test_ncombine_leaves_out_the_rejected_flats(reduced: RunResult) -> None:
    flats = {k: m for k, m in reduced.masters.items() if m.kind == "flat" and m.rejected}
    assert flats, "the test night has a saturated and a faint flat"
    for key, task in flats.items():
        meta = read_ccd(task.output).meta
        names = [meta[k] for k in meta if k.startswith("IMCMB")]
        planned = next(m for m in reduced.plan.masters if m.key == key)
        assert meta["NCOMBINE"] == len(names) == len(planned.inputs) - len(task.rejected)
        assert not set(names) & {p.rsplit("/", 1)[-1] for p, _ in task.rejected}
