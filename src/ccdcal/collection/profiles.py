"""Instrument profiles: how a camera's software writes its headers, read from TOML.

A profile says how to recognise a camera's frames (``[detect]``), which header
keywords hold each normalised field, with fallbacks (``[keywords]``), how the
frame-type values map to bias / dark / flat / science (``[frame_types]``), the
units of some values (``[units]``), defaults for what the header does not say
(``[defaults]``) and which frame types a filter matters for (``[filter]``).

Built in: ``pt5m``, ``maximdl`` (MaxIm DL, e.g. SBIG cameras), ``iraf``
(IRAF-style ``zero``/``dark``/``flat``/``object``) and the ``generic``
fallback. Users add profiles as ``*.toml`` files in
``<user config folder>/ccdcal/instruments/`` (``$CCDCAL_CONFIG_DIR/instruments``
when that variable is set) or pass files explicitly; a user profile with a
built-in name replaces it. A profile may ``extends`` another and change only
what differs. Detection tries profiles by descending ``priority``; the generic
profile (priority 0) matches everything. See ``profiles/generic.toml`` for an
annotated example of every table.

Examples
--------
>>> profiles = load_profiles()
>>> [p.name for p in profiles]
['pt5m', 'maximdl', 'iraf', 'generic']
>>> header = {"SWCREATE": "MaxIm DL Version 5.12", "IMAGETYP": "Flat Field"}
>>> detect_profile(header, profiles).name
'maximdl'
>>> get_profile("maxim", profiles).frame_types["flat field"]
'flat'
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import platformdirs

from ccdcal.errors import ProfileError

__all__ = [
    "CONFIG_ENV",
    "FIELDS",
    "DetectRule",
    "InstrumentProfile",
    "builtin_profiles",
    "detect_profile",
    "get_profile",
    "load_profile",
    "load_profiles",
    "user_profile_dir",
]

#: Environment variable naming the user's ccdcal configuration folder.
CONFIG_ENV = "CCDCAL_CONFIG_DIR"

#: Normalised fields a profile can map header keywords to.
FIELDS = (
    "frame_type",
    "exptime",
    "xbin",
    "ybin",
    "binning",
    "filter",
    "date_obs",
    "time_obs",
    "mjd",
    "jd",
    "ccd_temp",
    "set_temp",
    "readout_mode",
    "gain",
    "read_noise",
    "saturation",
    "overscan",
    "trim",
    "object",
    "telescope",
    "camera",
)
_NO_DEFAULT = frozenset({"frame_type", "binning", "date_obs", "time_obs", "mjd", "jd"})
_UNITS: dict[str, tuple[str, ...]] = {
    "exptime": ("s", "ms", "us", "min"),
    "ccd_temp": ("C", "K"),
    "set_temp": ("C", "K"),
    "gain": ("e/adu", "adu/e"),
    "read_noise": ("e", "adu"),
}
_TYPE_VALUES = ("bias", "dark", "flat", "science", "other")
_TOP_KEYS = frozenset(
    {
        "name",
        "description",
        "priority",
        "extends",
        "aliases",
        "detect",
        "keywords",
        "frame_types",
        "filter",
        "units",
        "defaults",
    }
)
_RULE_OPS = ("equals", "matches", "in", "present")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")

RuleOp = Literal["equals", "matches", "in", "present"]


def normalise_type_value(value: object) -> str:
    """The form frame-type values are compared in: case-folded, blanks collapsed.

    Examples
    --------
    >>> normalise_type_value("  Flat   Field ")
    'flat field'
    """
    return " ".join(str(value).split()).casefold()


def _header_value(header: Mapping[str, Any], key: str) -> Any:
    """``header[key]`` or None when missing or unparsable."""
    try:
        return header.get(key)
    except (ValueError, KeyError):
        return None


@dataclass(frozen=True)
class DetectRule:
    """One detection test on a header keyword.

    Examples
    --------
    >>> DetectRule("TELE", "equals", "pt5m").matches({"TELE": "PT5M "})
    True
    >>> DetectRule("SWCREATE", "matches", "^maxim").matches({"SWCREATE": "MaxIm DL 6"})
    True
    """

    keyword: str
    op: RuleOp
    value: Any

    def matches(self, header: Mapping[str, Any]) -> bool:
        """True when the header passes this test."""
        found = _header_value(header, self.keyword)
        if self.op == "present":
            return (found is not None) == bool(self.value)
        if found is None:
            return False
        if self.op == "matches":
            return re.search(self.value, str(found), flags=re.IGNORECASE) is not None
        choices = self.value if self.op == "in" else [self.value]
        if isinstance(found, str) or any(isinstance(c, str) for c in choices):
            text = normalise_type_value(found)
            return any(text == normalise_type_value(choice) for choice in choices)
        return any(bool(found == choice) for choice in choices)


@dataclass(frozen=True)
class InstrumentProfile:
    """How one instrument writes its headers (see the module docs for the TOML form)."""

    name: str
    description: str = ""
    priority: int = 50
    aliases: tuple[str, ...] = ()
    detect_any: tuple[DetectRule, ...] = ()
    detect_all: tuple[DetectRule, ...] = ()
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    frame_types: Mapping[str, str] = field(default_factory=dict)
    filter_applies_to: frozenset[str] = frozenset({"flat", "science"})
    units: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    source: str = "built-in"

    def detects(self, header: Mapping[str, Any]) -> bool:
        """True when the header looks like this instrument's (no rules: always)."""
        if not all(rule.matches(header) for rule in self.detect_all):
            return False
        return not self.detect_any or any(rule.matches(header) for rule in self.detect_any)

    def keywords_for(self, name: str) -> tuple[str, ...]:
        """The header keywords tried, in order, for a normalised field."""
        return self.keywords.get(name, ())

    def map_type(self, raw: object) -> str | None:
        """The normalised type of a header frame-type value, or None when unknown."""
        return self.frame_types.get(normalise_type_value(raw))

    @property
    def is_fallback(self) -> bool:
        """True for a profile that matches every header."""
        return not self.detect_any and not self.detect_all


# -- parsing TOML -------------------------------------------------------------------


def _fail(source: str, key: str, message: str) -> ProfileError:
    return ProfileError(f"instrument profile {source}: key '{key}': {message}")


def _str_list(value: Any, source: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(source, key, f"must be a keyword or a list of keywords, got {value!r}")
    return tuple(v.strip().upper() for v in value)


def _table(data: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _fail(source, key, f"must be a table, got {type(value).__name__}")
    return value


def _parse_rule(raw: Any, source: str, key: str) -> DetectRule:
    if not isinstance(raw, dict):
        raise _fail(
            source,
            key,
            f"each rule must be a table like {{keyword = ..., equals = ...}}, got {raw!r}",
        )
    unknown = set(raw) - {"keyword", *_RULE_OPS}
    if unknown:
        raise _fail(source, key, f"unknown rule field(s) {sorted(unknown)}")
    keyword = raw.get("keyword")
    if not isinstance(keyword, str) or not keyword.strip():
        raise _fail(source, key, "a rule needs 'keyword' (a header keyword)")
    ops = [op for op in _RULE_OPS if op in raw]
    if len(ops) != 1:
        raise _fail(source, key, f"a rule needs exactly one of {list(_RULE_OPS)}, got {ops}")
    op: RuleOp = ops[0]  # type: ignore[assignment]
    value = raw[op]
    if op == "matches":
        try:
            re.compile(value)
        except (re.error, TypeError) as exc:
            raise _fail(source, key, f"bad regular expression {value!r}: {exc}") from exc
    if op == "in" and not isinstance(value, list):
        raise _fail(source, key, f"'in' needs a list, got {value!r}")
    if op == "present" and not isinstance(value, bool):
        raise _fail(source, key, f"'present' needs true or false, got {value!r}")
    return DetectRule(keyword.strip().upper(), op, value)


def _parse_detect(data: Mapping[str, Any], source: str) -> tuple[tuple[DetectRule, ...], ...]:
    detect = _table(data, "detect", source)
    unknown = set(detect) - {"any", "all"}
    if unknown:
        raise _fail(source, f"detect.{sorted(unknown)[0]}", "only 'any' and 'all' are allowed")
    out = []
    for part in ("any", "all"):
        rules = detect.get(part, [])
        if not isinstance(rules, list):
            raise _fail(source, f"detect.{part}", "must be a list of rules")
        out.append(tuple(_parse_rule(r, source, f"detect.{part}") for r in rules))
    return tuple(out)


def _parse_keywords(data: Mapping[str, Any], source: str) -> dict[str, tuple[str, ...]]:
    table = _table(data, "keywords", source)
    out = {}
    for name, value in table.items():
        if name not in FIELDS:
            raise _fail(source, f"keywords.{name}", f"unknown field; known: {', '.join(FIELDS)}")
        out[name] = _str_list(value, source, f"keywords.{name}")
    return out


def _parse_frame_types(data: Mapping[str, Any], source: str) -> dict[str, str]:
    out = {}
    for raw, kind in _table(data, "frame_types", source).items():
        if kind not in _TYPE_VALUES:
            raise _fail(
                source, f"frame_types.{raw}", f"must be one of {list(_TYPE_VALUES)}, got {kind!r}"
            )
        out[normalise_type_value(raw)] = kind
    return out


def _parse_units(data: Mapping[str, Any], source: str) -> dict[str, str]:
    out = {}
    for name, unit in _table(data, "units", source).items():
        allowed = _UNITS.get(name)
        if allowed is None:
            raise _fail(
                source,
                f"units.{name}",
                f"no units for this field; fields with units: {list(_UNITS)}",
            )
        if unit not in allowed:
            raise _fail(source, f"units.{name}", f"must be one of {list(allowed)}, got {unit!r}")
        out[name] = unit
    return out


def _parse_defaults(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    out = {}
    for name, value in _table(data, "defaults", source).items():
        if name not in FIELDS or name in _NO_DEFAULT:
            raise _fail(source, f"defaults.{name}", "no default can be given for this field")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise _fail(source, f"defaults.{name}", f"must be a string or a number, got {value!r}")
        out[name] = value
    return out


def _parse_filter(data: Mapping[str, Any], source: str) -> frozenset[str] | None:
    table = _table(data, "filter", source)
    unknown = set(table) - {"applies_to"}
    if unknown:
        raise _fail(source, f"filter.{sorted(unknown)[0]}", "only 'applies_to' is allowed")
    if "applies_to" not in table:
        return None
    kinds = table["applies_to"]
    if not isinstance(kinds, list) or not set(kinds) <= set(_TYPE_VALUES[:4]):
        raise _fail(
            source,
            "filter.applies_to",
            f"must be a list from {list(_TYPE_VALUES[:4])}, got {kinds!r}",
        )
    return frozenset(kinds)


def _check_top(data: Mapping[str, Any], source: str) -> tuple[str, int]:
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise _fail(
            source, sorted(unknown)[0], f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}"
        )
    name = data.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _fail(source, "name", f"must be a lower-case name like 'pt5m', got {name!r}")
    priority = data.get("priority", 50)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise _fail(source, "priority", f"must be an integer, got {priority!r}")
    return name, priority


def profile_from_dict(
    data: Mapping[str, Any], *, source: str, known: Mapping[str, InstrumentProfile] | None = None
) -> InstrumentProfile:
    """Build a profile from parsed TOML; ``known`` profiles can be extended.

    Raises
    ------
    ccdcal.errors.ProfileError
        When a key is unknown or a value has the wrong form (the message names both).
    """
    name, priority = _check_top(data, source)
    detect_any, detect_all = _parse_detect(data, source)
    keywords = _parse_keywords(data, source)
    frame_types = _parse_frame_types(data, source)
    units = _parse_units(data, source)
    defaults = _parse_defaults(data, source)
    applies = _parse_filter(data, source)
    aliases = (
        tuple(a.lower() for a in _str_list(data.get("aliases", []), source, "aliases"))
        if data.get("aliases")
        else ()
    )
    base = _base_profile(data, source, known or {})
    if base is not None:
        keywords = {**base.keywords, **keywords}
        frame_types = {**base.frame_types, **frame_types}
        units = {**base.units, **units}
        defaults = {**base.defaults, **defaults}
        applies = applies if applies is not None else base.filter_applies_to
        priority = data.get("priority", base.priority)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _fail(source, "description", "must be a string")
    return InstrumentProfile(
        name=name,
        description=description,
        priority=priority,
        aliases=aliases,
        detect_any=detect_any,
        detect_all=detect_all,
        keywords=keywords,
        frame_types=frame_types,
        filter_applies_to=applies if applies is not None else frozenset({"flat", "science"}),
        units=units,
        defaults=defaults,
        source=source,
    )


def _base_profile(
    data: Mapping[str, Any], source: str, known: Mapping[str, InstrumentProfile]
) -> InstrumentProfile | None:
    extends = data.get("extends")
    if extends is None:
        return None
    if not isinstance(extends, str) or extends not in known:
        raise _fail(
            source, "extends", f"no profile named {extends!r} to extend; known: {sorted(known)}"
        )
    return known[extends]


def load_profile(
    path: str | os.PathLike[str], *, known: Mapping[str, InstrumentProfile] | None = None
) -> InstrumentProfile:
    """Read one profile from a TOML file.

    Raises
    ------
    ccdcal.errors.ProfileError
        When the file cannot be read, is not TOML, or a key is wrong.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as stream:
            data = tomllib.load(stream)
    except OSError as exc:
        raise ProfileError(
            f"instrument profile {source}: cannot read: {exc.strerror or exc}"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"instrument profile {source}: not valid TOML: {exc}") from exc
    return profile_from_dict(
        data, source=source, known=known if known is not None else _builtin_map()
    )


# -- the set of profiles ------------------------------------------------------------------

_BUILTIN_FILES = ("generic.toml", "pt5m.toml", "maximdl.toml", "iraf.toml")


@lru_cache(maxsize=1)
def builtin_profiles() -> tuple[InstrumentProfile, ...]:
    """The profiles shipped with ccdcal, in detection order."""
    folder = resources.files("ccdcal.collection") / "profiles"
    known: dict[str, InstrumentProfile] = {}
    for name in _BUILTIN_FILES:
        text = (folder / name).read_text(encoding="utf-8")
        profile = profile_from_dict(tomllib.loads(text), source=f"built-in {name}", known=known)
        known[profile.name] = profile
    return _ordered(known.values())


def _builtin_map() -> dict[str, InstrumentProfile]:
    return {p.name: p for p in builtin_profiles()}


def _ordered(profiles: Iterable[InstrumentProfile]) -> tuple[InstrumentProfile, ...]:
    return tuple(sorted(profiles, key=lambda p: (-p.priority, p.is_fallback, p.name)))


def user_profile_dir() -> Path:
    """Where user profiles live: ``$CCDCAL_CONFIG_DIR/instruments`` or the user config folder."""
    root = os.environ.get(CONFIG_ENV)
    base = Path(root).expanduser() if root else Path(platformdirs.user_config_dir("ccdcal"))
    return base / "instruments"


def load_profiles(
    instrument_files: Sequence[str | os.PathLike[str]] = (),
    *,
    user_dir: str | os.PathLike[str] | None = None,
) -> tuple[InstrumentProfile, ...]:
    """Built-in, user-folder and explicitly given profiles, in detection order.

    Later sources replace earlier profiles of the same name: built-in, then the
    user folder (sorted by file name), then ``instrument_files`` in order.
    """
    known = _builtin_map()
    folder = Path(user_dir) if user_dir is not None else user_profile_dir()
    files: list[str | os.PathLike[str]] = []
    if folder.is_dir():
        files.extend(sorted(folder.glob("*.toml")))
    files += list(instrument_files)
    for path in files:
        profile = load_profile(path, known=known)
        known[profile.name] = profile
    return _ordered(known.values())


def get_profile(
    name: str, profiles: Sequence[InstrumentProfile] | None = None
) -> InstrumentProfile:
    """The profile called ``name`` (or with that alias).

    Raises
    ------
    ccdcal.errors.ProfileError
        When there is none; the message lists the known names.
    """
    pool = profiles if profiles is not None else load_profiles()
    wanted = name.strip().lower()
    for profile in pool:
        if profile.name == wanted or wanted in profile.aliases:
            return profile
    known = ", ".join(sorted(p.name for p in pool))
    raise ProfileError(f"unknown instrument profile {name!r}; known profiles: {known}")


def detect_profile(
    header: Mapping[str, Any], profiles: Sequence[InstrumentProfile]
) -> InstrumentProfile:
    """The first profile (in detection order) that recognises the header."""
    for profile in profiles:
        if profile.detects(header):
            return profile
    fallback = [p for p in profiles if p.is_fallback]
    if fallback:
        return fallback[0]
    return replace(_builtin_map()["generic"])
