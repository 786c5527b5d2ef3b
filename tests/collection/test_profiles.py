"""Instrument profiles: built-ins, detection, user files, extension, errors naming file and key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ccdcal.collection.profiles import (
    DetectRule,
    builtin_profiles,
    detect_profile,
    get_profile,
    load_profile,
    load_profiles,
    user_profile_dir,
)
from ccdcal.errors import ProfileError


def test_builtins_in_detection_order() -> None:
    names = [p.name for p in builtin_profiles()]
    assert names == ["pt5m", "maximdl", "iraf", "generic"]
    assert builtin_profiles()[-1].is_fallback


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"TELE": "pt5m", "TYPE": "SKY"}, "pt5m"),
        ({"TYPE": "SCIENCE"}, "pt5m"),
        ({"SWCREATE": "MaxIm DL Version 5.12", "IMAGETYP": "Light Frame"}, "maximdl"),
        ({"IMAGETYP": "Flat Field"}, "maximdl"),
        ({"IMAGETYP": "zero"}, "iraf"),
        ({"IMAGETYP": "OBJECT"}, "iraf"),
        ({"IMAGETYP": "dark"}, "generic"),
        ({"IMAGETYP": "LIGHT", "SWCREATE": "N.I.N.A."}, "generic"),
        ({}, "generic"),
    ],
)
def test_detection(header: dict[str, object], expected: str) -> None:
    assert detect_profile(header, builtin_profiles()).name == expected


def test_aliases_and_unknown_names() -> None:
    assert get_profile("MaxIm").name == "maximdl"
    assert get_profile("sbig").name == "maximdl"
    with pytest.raises(
        ProfileError, match=r"unknown instrument profile 'nope'; known profiles: generic, iraf"
    ):
        get_profile("nope")


def test_rules() -> None:
    assert DetectRule("X", "present", True).matches({"X": 0})
    assert DetectRule("X", "present", False).matches({})
    assert DetectRule("X", "in", ["a", "B"]).matches({"X": " b "})
    assert DetectRule("X", "equals", 2).matches({"X": 2})
    assert not DetectRule("X", "equals", 2).matches({"X": 3})
    assert not DetectRule("X", "matches", "^a").matches({})


MINIMAL = """
name = "mycam"
description = "my camera"
extends = "generic"
[detect]
any = [{ keyword = "INSTRUME", equals = "MyCam 1" }]
[keywords]
frame_type = ["FRAMETYP"]
exptime = "EXPMS"
[units]
exptime = "ms"
[frame_types]
"B" = "bias"
"D" = "dark"
[defaults]
gain = 1.5
"""


def test_user_folder_profile_extends_generic(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = Path(os.environ["CCDCAL_CONFIG_DIR"]) / "instruments"
    folder.mkdir(parents=True)
    (folder / "mycam.toml").write_text(MINIMAL)
    assert user_profile_dir() == folder
    profiles = load_profiles()
    names = [p.name for p in profiles]
    assert names[-1] == "generic"
    assert "mycam" in names
    mycam = get_profile("mycam", profiles)
    assert mycam.keywords_for("exptime") == ("EXPMS",)
    assert mycam.keywords_for("filter") == get_profile("generic").keywords_for("filter")
    assert mycam.map_type("b") == "bias"
    assert mycam.map_type("light frame") == "science"  # inherited
    assert mycam.defaults["gain"] == 1.5
    assert mycam.source == str(folder / "mycam.toml")
    assert detect_profile({"INSTRUME": "mycam 1"}, profiles).name == "mycam"


def test_instrument_file_replaces_builtin(tmp_path: Path) -> None:
    path = tmp_path / "pt5m.toml"
    path.write_text('name = "pt5m"\npriority = 70\n[frame_types]\n"sky" = "flat"\n')
    profiles = load_profiles([path])
    pt5m = get_profile("pt5m", profiles)
    assert pt5m.priority == 70
    assert pt5m.source == str(path)
    assert len([p for p in profiles if p.name == "pt5m"]) == 1


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('name = "x"\ncolour = 3', "colour"),
        ('name = "X Y"', "name"),
        ("description = 'no name'", "name"),
        ('name = "x"\npriority = "high"', "priority"),
        ('name = "x"\n[keywords]\nexposure = ["EXPTIME"]', "keywords.exposure"),
        ('name = "x"\n[keywords]\nexptime = [1, 2]', "keywords.exptime"),
        ('name = "x"\n[frame_types]\n"zero" = "offset"', "frame_types.zero"),
        ('name = "x"\n[units]\nexptime = "hours"', "units.exptime"),
        ('name = "x"\n[units]\nfilter = "nm"', "units.filter"),
        ('name = "x"\n[defaults]\nframe_type = "bias"', "defaults.frame_type"),
        ('name = "x"\n[defaults]\ngain = true', "defaults.gain"),
        (
            'name = "x"\n[detect]\nany = [{ keyword = "A", equals = 1, matches = "b" }]',
            "detect.any",
        ),
        ('name = "x"\n[detect]\nany = [{ keyword = "A", matches = "(" }]', "detect.any"),
        ('name = "x"\n[detect]\nall = [{ equals = 1 }]', "detect.all"),
        ('name = "x"\n[detect]\nnone = []', "detect.none"),
        ('name = "x"\n[filter]\napplies_to = ["bias", "arcs"]', "filter.applies_to"),
        ('name = "x"\nextends = "nothing"', "extends"),
    ],
)
def test_malformed_profiles_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=rf"{path}: key '{key}'"):
        load_profile(path)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ProfileError, match=rf"{bad}: not valid TOML"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.toml")


def test_bad_user_profile_is_an_error(tmp_path: Path) -> None:
    folder = Path(os.environ["CCDCAL_CONFIG_DIR"]) / "instruments"
    folder.mkdir(parents=True)
    (folder / "broken.toml").write_text('name = "b"\n[keywords]\nnope = "X"\n')
    with pytest.raises(ProfileError, match=r"broken\.toml: key 'keywords\.nope'"):
        load_profiles()
