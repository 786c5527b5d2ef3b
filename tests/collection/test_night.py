"""scan: a whole night on disk, classified against the truth of a synthetic pt5m night."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from ccdcal.collection.night import FrameGroup, scan
from ccdcal.errors import InvalidParameterError, ProfileError
from ccdcal.testing import make_night

from .conftest import make_old, write_frame


@pytest.fixture(scope="module")
def pt5m_night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    base = tmp_path_factory.mktemp("night")
    truth = make_night(
        base,
        seed=2,
        size_factor=1 / 32,
        n_bias=2,
        n_dark=2,
        n_flat=2,
        n_science=2,
        junk_files=True,
        corrupt_file=True,
    )
    for path in (base / "raw").rglob("*"):
        if path.is_file():
            make_old(path)
    return base / "raw", truth


def test_pt5m_night_matches_truth(pt5m_night: tuple[Path, object]) -> None:
    raw, truth = pt5m_night
    result = scan([raw])
    good = {f.path: f for f in truth.frames if "corrupt" not in f.flags}  # type: ignore[attr-defined]
    found = {str(Path(f.path).relative_to(raw)): f for f in result.frames}
    assert set(found) == set(good)
    for rel, expected in good.items():
        info = found[rel]
        assert info.instrument == "pt5m"
        assert info.frame_type == expected.kind
        assert info.xbin == info.ybin == expected.binning
        assert info.exptime == expected.exptime
        assert info.filter == (expected.filter if expected.kind in ("flat", "science") else None)
        assert info.problems == ()
    corrupt = [f.path for f in truth.frames if "corrupt" in f.flags]  # type: ignore[attr-defined]
    assert [str(Path(u.path).relative_to(raw)) for u in result.unreadable] == corrupt
    assert result.unreadable[0].reason.startswith("truncated file")


def test_group_counts(pt5m_night: tuple[Path, object]) -> None:
    raw, truth = pt5m_night
    result = scan([raw])
    expected = Counter(
        FrameGroup(
            f.kind,
            f.binning,
            f.binning,
            f.filter if f.kind in ("flat", "science") else None,
            f.exptime,
        )
        for f in truth.frames  # type: ignore[attr-defined]
        if "corrupt" not in f.flags
    )
    assert dict(result.group_counts()) == dict(expected)
    kinds = [g.frame_type for g, _ in result.group_counts()]
    assert kinds == sorted(kinds, key=["bias", "dark", "flat", "science"].index)


def test_second_scan_same_result_from_cache(pt5m_night: tuple[Path, object]) -> None:
    raw, _ = pt5m_night
    first = scan([raw])
    second = scan([raw])
    assert first == second
    assert scan([raw], use_cache=False) == first


def test_not_recursive_finds_nothing_at_top(pt5m_night: tuple[Path, object]) -> None:
    raw, _ = pt5m_night
    result = scan([raw], recursive=False)
    assert result.frames == ()
    assert result.unreadable == ()


def test_single_files_and_duplicates(pt5m_night: tuple[Path, object]) -> None:
    raw, _ = pt5m_night
    one = next(raw.rglob("BIAS/*.fits"))
    result = scan([one, one.parent, one])
    assert [f.path for f in result.frames].count(str(one)) == 1


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="does not exist"):
        scan([tmp_path / "nowhere"])


def test_forced_instrument_and_unknown_instrument(pt5m_night: tuple[Path, object]) -> None:
    raw, _ = pt5m_night
    result = scan([raw], instrument="maxim")
    assert {f.instrument for f in result.frames} == {"maximdl"}
    assert all(f.frame_type is None for f in result.frames)
    assert all("no frame-type keyword (looked for IMAGETYP)" in f.problems for f in result.frames)
    with pytest.raises(ProfileError, match="unknown instrument profile 'nope'"):
        scan([raw], instrument="nope")


def test_instrument_file(tmp_path: Path) -> None:
    write_frame(tmp_path / "a.fits", {"INSTRUME": "MyCam", "KIND": "calib-zero", "EXPTIME": 0.0})
    profile = tmp_path / "mycam.toml"
    profile.write_text(
        'name = "mycam"\nextends = "generic"\n'
        '[detect]\nany = [{keyword = "INSTRUME", equals = "MyCam"}]\n'
        '[keywords]\nframe_type = "KIND"\n[frame_types]\n"calib-zero" = "bias"\n'
    )
    plain = scan([tmp_path])
    assert plain.frames[0].frame_type is None
    result = scan([tmp_path], instrument_files=[profile])
    assert (result.frames[0].instrument, result.frames[0].frame_type) == ("mycam", "bias")


def test_iraf_night_adopts_one_profile(tmp_path: Path) -> None:
    for name, kind in [
        ("z.fits", "zero"),
        ("d.fits", "dark"),
        ("f.fits", "flat"),
        ("o.fits", "object"),
    ]:
        write_frame(tmp_path / name, {"IMAGETYP": kind, "EXPTIME": 1.0})
    result = scan([tmp_path])
    assert {f.instrument for f in result.frames} == {"iraf"}
    assert [f.frame_type for f in result.frames] == ["dark", "flat", "science", "bias"]


def test_mixed_specific_profiles_are_left_alone(tmp_path: Path) -> None:
    write_frame(tmp_path / "a.fits", {"IMAGETYP": "zero"})
    write_frame(tmp_path / "b.fits", {"TELE": "pt5m", "TYPE": "BIAS"})
    write_frame(tmp_path / "c.fits", {"IMAGETYP": "dark", "EXPTIME": 1.0})
    result = scan([tmp_path])
    assert [f.instrument for f in result.frames] == ["iraf", "pt5m", "generic"]


def test_fz_and_mef_use_image_hdu_and_primary_keywords(tmp_path: Path) -> None:
    data = np.zeros((12, 20), np.uint16)
    image_header = fits.Header({"IMAGETYP": "Dark Frame", "EXPTIME": 60.0})
    primary = fits.PrimaryHDU(
        header=fits.Header({"DATE-OBS": "2025-01-02T03:04:05", "XBINNING": 2})
    )
    fits.HDUList([primary, fits.CompImageHDU(data, image_header)]).writeto(tmp_path / "d.fits.fz")
    make_old(tmp_path / "d.fits.fz")
    frame = scan([tmp_path]).frames[0]
    assert (frame.hdu, frame.shape, frame.frame_type) == (1, (12, 20), "dark")
    assert (frame.date_obs, frame.xbin, frame.exptime) == ("2025-01-02T03:04:05", 2, 60.0)


def test_to_dict_is_json_ready(pt5m_night: tuple[Path, object]) -> None:
    import json

    raw, _ = pt5m_night
    data = json.loads(json.dumps(scan([raw]).to_dict()))
    assert {"frames", "groups", "unclassified", "unreadable"} <= set(data)
    assert sum(g["count"] for g in data["groups"]) == len(data["frames"])
