"""``trim_image``: cut an image to a FITS / IRAF section.

Data, mask, uncertainty and WCS are sliced together; the result owns
contiguous copies of its planes (the input is never shared or changed) and
keeps the input's dtype (trimming does no arithmetic).  A section that
reaches outside the image is an error naming the section and the shape
(ccdproc silently returns a smaller image).

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> ccd = CCDData(np.arange(20, dtype=np.uint16).reshape(4, 5), unit="adu")
>>> trim_image(ccd, fits_section="[2:3, 1:2]").data
array([[1, 2],
       [6, 7]], dtype=uint16)
"""

from __future__ import annotations

import numpy as np
from astropy.nddata import CCDData

from ccdcal.calibrate._frame import require_ccd
from ccdcal.calibrate._record import logged_step, record
from ccdcal.calibrate.sections import section_to_slices
from ccdcal.errors import ParameterTypeError
from ccdcal.io.provenance import LogSpec

__all__ = ["trim_image", "trim_to_slices"]


def trim_to_slices(ccd: CCDData, slices: tuple[slice, ...] | None) -> CCDData:
    """A new frame holding copies of ``ccd``'s planes (and WCS) cut to ``slices``."""
    view = ccd[slices] if slices else ccd
    unc = view.uncertainty
    if unc is not None:
        unc = unc.__class__(np.array(unc.array, copy=True), unit=unc.unit, copy=False)
    mask = None if view.mask is None else np.array(view.mask, copy=True)
    wcs = view.wcs
    if wcs is not None and view is ccd:
        wcs = wcs.deepcopy()
    return CCDData(
        np.array(view.data, copy=True),
        unit=ccd.unit,
        mask=mask,
        uncertainty=unc,
        wcs=wcs,
        meta=ccd.meta.copy(),
        copy=False,
    )


@logged_step
def trim_image(
    ccd: CCDData, fits_section: str | None = None, *, add_keyword: LogSpec = True
) -> CCDData:
    """Trim an image to a FITS section (or just copy it).

    Parameters
    ----------
    ccd : CCDData
        The image, possibly already a slice (``trim_image(ccd[:, :1024])``).
    fits_section : str, optional
        The region to keep, FITS convention: 1-based, inclusive, x first,
        e.g. ``'[1:1024, 1:1020]'``; blanks, ``*``, ``-*`` and steps allowed.
    add_keyword : bool, str, Keyword or dict, optional
        How to record the step in the header (as ccdproc's ``add_keyword``).

    Returns
    -------
    CCDData
        A trimmed copy with its own data, mask, uncertainty, WCS and header.

    Raises
    ------
    ParameterTypeError
        ``fits_section`` is not a str (a ``TypeError``, as in ccdproc).
    SectionError
        The section cannot be parsed or reaches outside the image.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import CCDData
    >>> arr = CCDData(np.ones((100, 100), dtype=np.float32), unit="adu")
    >>> trim_image(arr, fits_section="[1:90, *]").shape
    (100, 90)
    >>> trimmed = trim_image(arr[:, :90])
    >>> trimmed.data[0, 0] = 2
    >>> float(arr.data[0, 0])
    1.0
    """
    require_ccd(ccd, "ccd")
    if fits_section is not None and not isinstance(fits_section, str):
        raise ParameterTypeError(
            f"fits_section must be a string such as '[1:1024, 1:1020]', got {fits_section!r}"
        )
    slices = section_to_slices(fits_section, ccd.shape) if fits_section else None
    result = trim_to_slices(ccd, slices)
    record(
        result,
        "trim_image",
        params={"section": fits_section or None, "shape": list(result.shape)},
        add_keyword=add_keyword,
    )
    return result
