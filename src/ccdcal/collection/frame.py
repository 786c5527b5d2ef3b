"""The normalised record of one raw frame, as the pipeline and the calibration library see it.

:class:`FrameInfo` holds what the pipeline needs to know about a frame, in the
same names and units whatever the camera software wrote: the frame type (bias,
dark, flat or science), exposure time in seconds, binning, filter, observation
time (ISO UTC and MJD), CCD temperature in Celsius, gain in e-/ADU, read noise
in electrons and so on. It is made by :func:`ccdcal.collection.classify` from a
header and an instrument profile. :class:`UnreadableFile` names a file that
could not be read as FITS, with the reason.

Examples
--------
>>> info = FrameInfo(path="/data/night/r0000001.fits", instrument="pt5m",
...                  frame_type="bias", raw_type="BIAS", exptime=0.0)
>>> info.usable, info.binning
(True, (1, 1))
>>> FrameInfo.from_dict(info.to_dict()) == info
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

__all__ = ["FRAME_TYPES", "FrameInfo", "FrameType", "UnreadableFile"]

#: The frame types the pipeline uses.
FrameType = Literal["bias", "dark", "flat", "science"]

#: The values of :data:`FrameType`, in pipeline order.
FRAME_TYPES: tuple[str, ...] = get_args(FrameType)


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """What the pipeline knows about one raw frame, in normalised names and units.

    Parameters
    ----------
    path : str
        Absolute path of the file.
    hdu : int
        Index of the HDU that holds the image (1 for a tile-compressed ``.fz`` file).
    instrument : str
        Name of the instrument profile that read the header.
    frame_type : {'bias', 'dark', 'flat', 'science'} or None
        None when the type cannot be told (see ``problems``).
    raw_type : str or None
        The header's own frame-type value, e.g. ``'Flat Field'`` or ``'SKY'``.
    exptime : float or None
        Exposure time in seconds.
    xbin, ybin : int
        Binning factors (1 when the header does not say).
    filter : str or None
        Filter name; None for frame types the filter does not matter for
        (bias and dark in the built-in profiles) or when the header has none.
    date_obs : str or None
        Start of the exposure, ISO 8601 in UTC (``'2025-06-25T06:12:46'``).
    mjd : float or None
        Modified Julian Date of ``date_obs``.
    ccd_temp, set_temp : float or None
        Measured and set-point CCD temperature in Celsius.
    readout_mode : str or None
        Camera readout mode.
    gain : float or None
        Gain in e-/ADU.
    read_noise : float or None
        Read noise in electrons.
    saturation : float or None
        Saturation level in ADU.
    shape : tuple of int or None
        Image shape in numpy order ``(ny, nx)``.
    overscan, trim : str or None
        FITS sections (``'[1:2048, 1:4096]'``) of the overscan and the part to keep.
    object, telescope, camera : str or None
        Target name, telescope and camera as the header gives them.
    problems : tuple of str
        Reasons the frame cannot be used as it is (empty for a usable frame).
    """

    path: str
    hdu: int = 0
    instrument: str = "generic"
    frame_type: FrameType | None = None
    raw_type: str | None = None
    exptime: float | None = None
    xbin: int = 1
    ybin: int = 1
    filter: str | None = None
    date_obs: str | None = None
    mjd: float | None = None
    ccd_temp: float | None = None
    set_temp: float | None = None
    readout_mode: str | None = None
    gain: float | None = None
    read_noise: float | None = None
    saturation: float | None = None
    shape: tuple[int, int] | None = None
    overscan: str | None = None
    trim: str | None = None
    object: str | None = None
    telescope: str | None = None
    camera: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        """True when the frame type is known and nothing stands in the way of using it."""
        return self.frame_type is not None and not self.problems

    @property
    def binning(self) -> tuple[int, int]:
        """``(xbin, ybin)``."""
        return (self.xbin, self.ybin)

    @property
    def name(self) -> str:
        """The file name without its folder."""
        return os.path.basename(self.path)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists).

        Examples
        --------
        >>> FrameInfo(path="/x.fits", shape=(4, 6)).to_dict()["shape"]
        [4, 6]
        """
        out = {name: getattr(self, name) for name in _FIELD_NAMES}
        out["shape"] = list(self.shape) if self.shape is not None else None
        out["problems"] = list(self.problems)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameInfo:
        """Rebuild a record from :meth:`to_dict` output; unknown keys are an error.

        Examples
        --------
        >>> FrameInfo.from_dict({"path": "/x.fits", "frame_type": "dark"}).frame_type
        'dark'
        """
        unknown = sorted(set(data) - set(_FIELD_NAMES))
        if unknown:
            raise ValueError(f"FrameInfo.from_dict: unknown field(s) {unknown}")
        values = dict(data)
        if values.get("shape") is not None:
            ny, nx = values["shape"]
            values["shape"] = (int(ny), int(nx))
        values["problems"] = tuple(values.get("problems", ()))
        return cls(**values)


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(FrameInfo))


@dataclass(frozen=True, slots=True)
class UnreadableFile:
    """A file that could not be read as FITS, and why.

    Examples
    --------
    >>> UnreadableFile("/data/notes.fits", "not a FITS file").reason
    'not a FITS file'
    """

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """``{'path': ..., 'reason': ...}``."""
        return {"path": self.path, "reason": self.reason}
