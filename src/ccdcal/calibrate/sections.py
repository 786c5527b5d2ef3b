"""FITS / IRAF image sections (``'[1:100, 1:50]'``) to python slices.

A FITS section is 1-based, inclusive at both ends, and lists the *x* axis
(columns, the fastest-varying one) first, the reverse of numpy's order.
Supported per axis: ``a:b``, ``a:b:step``, ``a`` (one pixel), ``*`` (all),
``-*`` (all, flipped), ``*:step``, ``-*:step``, ``a:`` / ``:b`` / ``:``, and
``a:b`` with ``a > b`` (flipped).  Blanks anywhere are ignored, as in the
headers MaxIm DL and IRAF write (``'[   4:  13,   1: 520]'``).

:func:`section_to_slices` checks the section against the image shape and
raises :class:`~ccdcal.errors.SectionError` naming the section and the shape.
:func:`slice_from_string` is ccdproc's helper of the same name, kept for
compatibility (it does not know the shape, so it cannot check the range).

Examples
--------
>>> section_to_slices('[   4:  13,   1: 520]', (1020, 1530))
(slice(0, 520, 1), slice(3, 13, 1))
>>> import numpy as np
>>> np.arange(10).reshape(2, 5)[section_to_slices('[-*, 2]', (2, 5))]
array([[9, 8, 7, 6, 5]])
>>> slice_from_string('[1:5, 2:3]', fits_convention=True)
(slice(1, 3, None), slice(0, 5, None))
"""

from __future__ import annotations

import re

from ccdcal.errors import SectionError

__all__ = ["section_to_slices", "slice_from_string"]

_BLANKS = re.compile(r"\s+")
_AXIS_NAMES = ("x (columns)", "y (rows)", "z")


def _strip(section: str) -> str:
    text = _BLANKS.sub("", section)
    if not (text.startswith("[") and text.endswith("]")):
        raise SectionError(
            f"Slice string must be enclosed in square brackets: got {section!r}; "
            f"write a FITS section such as '[1:100, 1:50]'"
        )
    return text[1:-1]


def _int(token: str, section: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise SectionError(
            f"section {section!r}: {token!r} is not an integer index; "
            f"write a FITS section such as '[1:100, 1:50]'"
        ) from None


def section_to_slices(section: str, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """Python slices (numpy axis order) for a FITS/IRAF section of an image of ``shape``.

    Parameters
    ----------
    section : str
        The section, e.g. ``'[1:100, 1:50]'`` (x first, 1-based, inclusive).
    shape : tuple of int
        The numpy shape of the image the section refers to.

    Raises
    ------
    SectionError
        The section cannot be parsed, has the wrong number of axes, uses
        index 0 or a negative step, or reaches outside the image.

    Examples
    --------
    >>> section_to_slices('[1:5, 2:3]', (10, 10))
    (slice(1, 3, 1), slice(0, 5, 1))
    >>> section_to_slices('[1:11, *]', (10, 10))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ccdcal.errors.SectionError: section '[1:11, *]': x (columns) range 1:11 is outside ...
    """
    if not isinstance(section, str):
        raise SectionError(f"a FITS section must be a str, got {type(section).__name__}")
    parts = _strip(section).split(",")
    if len(parts) != len(shape):
        raise SectionError(
            f"section {section!r} has {len(parts)} axes but the image has {len(shape)} "
            f"(numpy shape {tuple(shape)}); give one range per axis, x first"
        )
    slices = [
        _axis_slice(token, shape[len(shape) - 1 - i], i, section, shape)
        for i, token in enumerate(parts)
    ]
    return tuple(reversed(slices))


def _axis_slice(token: str, length: int, axis: int, section: str, shape: tuple[int, ...]) -> slice:
    name = _AXIS_NAMES[axis] if axis < len(_AXIS_NAMES) else f"axis {axis + 1}"
    pieces = token.split(":")
    if len(pieces) > 3 or token == "":
        raise SectionError(
            f"section {section!r}: cannot read {token!r} for the {name} axis; "
            f"use 'first:last', 'first:last:step', '*' or '-*'"
        )
    step = 1
    if pieces[0] in ("*", "-*"):
        if len(pieces) > 2:
            raise SectionError(f"section {section!r}: cannot read {token!r}")
        if len(pieces) == 2:
            step = _int(pieces[1], section)
        first, last = (1, length) if pieces[0] == "*" else (length, 1)
    elif len(pieces) == 1:
        first = last = _int(pieces[0], section)
    else:
        first = _int(pieces[0], section) if pieces[0] else 1
        last = _int(pieces[1], section) if pieces[1] else length
        if len(pieces) == 3 and pieces[2]:
            step = _int(pieces[2], section)
    if step < 1:
        raise SectionError(
            f"section {section!r}: step {step} for the {name} axis must be positive; "
            f"to flip an axis give its bounds in reverse order ('100:1') or use '-*'"
        )
    for index in (first, last):
        if not 1 <= index <= length:
            unit = "columns" if axis == 0 else "rows" if axis == 1 else "pixels"
            raise SectionError(
                f"section {section!r}: {name} range {first}:{last} is outside the image, "
                f"which has {length} {unit} (numpy shape {tuple(shape)}); FITS sections are "
                f"1-based, inclusive, and give x (columns) first"
            )
    if first <= last:
        return slice(first - 1, last, step)
    return slice(first - 1, last - 2 if last > 1 else None, -step)


def slice_from_string(string: str, fits_convention: bool = False) -> tuple[slice, ...]:
    """Convert a string such as ``'[1:10, 2:5]'`` to a tuple of slices (as ccdproc's).

    Parameters
    ----------
    string : str
        A numpy-style slice in square brackets; blanks are ignored.
    fits_convention : bool, optional
        If True the string is a FITS section: 1-based, inclusive, x first;
        ``*`` means the whole axis and ``-*`` the whole axis flipped.

    Returns
    -------
    tuple of slice
        An empty tuple for an empty string.

    Raises
    ------
    SectionError
        (a ``ValueError``) for missing brackets, a FITS index 0 or a negative
        FITS end index.

    Examples
    --------
    >>> import numpy as np
    >>> np.arange(5)[slice_from_string('[ : : -2] ')]
    array([4, 2, 0])
    >>> slice_from_string('[*, -*]', fits_convention=True)
    (slice(None, None, -1), slice(None, None, None))
    """
    if not _BLANKS.sub("", string):
        return ()
    text = _strip(string)
    if fits_convention:
        text = text.replace("-*:", "::-").replace("-*", "::-1").replace("*", ":")
    slices = []
    for token in text.split(","):
        args = [_int(arg, string) if arg else None for arg in token.split(":")]
        slices.append(slice(*args))
    if fits_convention:
        slices = [_defits(s, string) for s in reversed(slices)]
    return tuple(slices)


def _defits(fits_slice: slice, string: str) -> slice:
    start, stop, step = fits_slice.start, fits_slice.stop, fits_slice.step
    if start is not None and start < 1:
        raise SectionError(f"Smallest permissible FITS index is 1 (got {start} in {string!r})")
    if stop is not None and stop < 0:
        raise SectionError(
            f"Negative final index not allowed for FITS slice (got {stop} in {string!r})"
        )
    new_start = start - 1 if start is not None else None
    if start is not None and stop is not None and start > stop:
        new_step = -1 if step is None else -step
        return slice(new_start, None if stop == 1 else stop - 2, new_step)
    return slice(new_start, stop, step)
