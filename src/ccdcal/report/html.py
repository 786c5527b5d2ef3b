"""The QA report page: one static, self-contained HTML file built from the QA metrics.

:func:`render_html` turns what :func:`ccdcal.report.qa.qa_metrics` returns
into a page that needs no server, no JavaScript and no network: CSS inline,
pictures linked by relative paths (``thumbs/...png``, ``science_trends.png``),
every piece of text escaped with :func:`html.escape`.  The order is what an
observer looks at first: the flags, then the night (counts, problems,
timings), the science frames with the noise check, the masters, the plots
and the thumbnails.

Examples
--------
>>> page = render_html({"night": {"headline": "0 masters"}, "flags": [], "masters": [],
...                     "science": []})
>>> page.startswith("<!DOCTYPE html>"), "No flags" in page
(True, True)
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;
max-width:1400px;padding:0 1em;color:#1b1f24;background:#fff;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;
border-bottom:1px solid #d0d7de;padding-bottom:.2em}
.sub{color:#57606a;margin-top:0}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.error td{background:#ffebe9}tr.warning td{background:#fff8c5}tr.info td{color:#57606a}
td.bad{background:#ffebe9;font-weight:600}
.sev{font-weight:600;text-transform:uppercase;font-size:.8em}
.ok{color:#1a7f37;font-weight:600}.notok{color:#cf222e;font-weight:600}
.gallery{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #d0d7de;padding:6px;background:#f6f8fa}
figure img{display:block;max-width:320px;height:auto;image-rendering:pixelated}
figcaption{font-size:.8em;max-width:320px;word-wrap:break-word}
figure.plot{display:inline-block;margin:.5em 0}img.plot{max-width:100%;height:auto}
td.t{white-space:nowrap}
ul.plain{margin:.3em 0;padding-left:1.2em}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, spec: str = ".4g") -> str:
    if value is None:
        return ""
    if isinstance(value, int | float):
        return format(value, spec)
    return _e(value)


def _pct(value: Any) -> str:
    return "" if value is None else f"{100 * float(value):.3g} %"


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    row_class: Sequence[str] | None = None,
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    thead = f"<thead><tr>{head}</tr></thead>" if headers else ""
    body = []
    for i, cells in enumerate(rows):
        cls = f' class="{_e(row_class[i])}"' if row_class and row_class[i] else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def _td(text: str, *, numeric: bool = False, bad: bool = False) -> str:
    classes = " ".join(c for c, on in (("n", numeric), ("bad", bad)) if on)
    return f'<td class="{classes}">{text}</td>' if classes else f"<td>{text}</td>"


def _link(target: str | None, text: str) -> str:
    """A relative link from ``OUT_DIR/qa/`` to an output (``masters/x.fits``)."""
    if not target:
        return _e(text)
    href = target if PurePosixPath(target).is_absolute() else f"../{target}"
    return f'<a href="{_e(href)}">{_e(text)}</a>'


# --------------------------------------------------------------------------- sections


def _flags_section(flags: Sequence[Mapping[str, Any]]) -> str:
    n_err = sum(1 for f in flags if f.get("severity") == "error")
    n_warn = sum(1 for f in flags if f.get("severity") == "warning")
    if not flags:
        return '<h2 id="flags">Flags</h2><p class="ok">No flags: every check passed.</p>'
    rows = [
        [
            _td(f'<span class="sev">{_e(f.get("severity"))}</span>'),
            _td(_e(f.get("subject"))),
            _td(_e(f.get("check"))),
            _td(_e(f.get("message"))),
        ]
        for f in flags
    ]
    summary = (
        f"<p>{n_err} error(s), {n_warn} warning(s), {len(flags) - n_err - n_warn} note(s).</p>"
    )
    return (
        '<h2 id="flags">Flags</h2>'
        + summary
        + _table(
            ["severity", "subject", "check", "message"],
            rows,
            row_class=[str(f.get("severity", "")) for f in flags],
        )
    )


def _night_section(night: Mapping[str, Any], seconds: Any) -> str:
    counts = night.get("counts") or {}
    count_table = _table(list(counts), [[_td(_num(v, "d"), numeric=True) for v in counts.values()]])
    stages = night.get("stage_seconds") or {}
    stage_table = _table(
        ["stage", "seconds"],
        [[_td(_e(k)), _td(_num(v, ".3g"), numeric=True)] for k, v in stages.items()],
    )
    facts = [
        ("output directory", _e(night.get("out_dir"))),
        ("raw directories", _e(", ".join(night.get("raw_dirs") or []))),
        ("started", _e(night.get("started"))),
        ("run time", f"{_num(night.get('seconds'), '.3g')} s"),
        ("executor", _e(night.get("executor"))),
        ("QA report time", f"{_num(seconds, '.3g')} s"),
    ]
    fact_rows = [[f"<th>{_e(k)}</th>", _td(v)] for k, v in facts]
    parts = ['<h2 id="night">Night</h2>', _table([], fact_rows), count_table, stage_table]
    problems = night.get("problems") or []
    if problems:
        parts.append("<h3>Problems found by the plan</h3>")
        parts.append(
            _table(
                ["severity", "kind", "file", "message"],
                [
                    [_td(_e(p.get("severity"))), _td(_e(p.get("kind"))),
                     _td(_e(p.get("path") or "")), _td(_e(p.get("message")))]
                    for p in problems
                ],
                row_class=[str(p.get("severity", "")) for p in problems],
            )
        )  # fmt: skip
    skipped = night.get("skipped") or []
    if skipped:
        parts.append("<h3>Science frames skipped by the plan</h3>")
        parts.append(
            _table(
                ["file", "reason", "missing"],
                [[_td(_e(s.get("path"))), _td(_e(s.get("reason"))),
                  _td(_e(", ".join(s.get("missing") or [])))] for s in skipped],
            )
        )  # fmt: skip
    return "".join(parts)


def _flag_text(flags: Sequence[Mapping[str, Any]]) -> str:
    return "<br>".join(_e(f"{f.get('check')}: {f.get('message')}") for f in flags)


def _science_section(science: Sequence[Mapping[str, Any]], band: Sequence[float]) -> str:
    if not science:
        return '<h2 id="science">Science frames</h2><p>No science frames.</p>'
    low, high = (band[0], band[1]) if len(band) == 2 else (0.8, 1.25)
    rows = []
    for s in science:
        ratio = s.get("noise_ratio")
        masters = ", ".join(f"{k}: {v}" for k, v in sorted((s.get("masters") or {}).items()))
        rows.append(
            [
                _td(_link(s.get("file"), s.get("file") or s.get("key") or "")),
                _td(_e(s.get("status"))),
                _td(_e(s.get("filter"))),
                _td(_num(s.get("exptime"), "g"), numeric=True),
                f'<td class="t">{_e(s.get("date_obs"))}</td>',
                _td(_num(s.get("sky"), ".5g"), numeric=True),
                _td(_num(s.get("sky_rate"), ".4g"), numeric=True),
                _td(_num(s.get("sky_noise"), ".4g"), numeric=True),
                _td(_num(s.get("uncert_median"), ".4g"), numeric=True),
                _td(
                    _num(ratio, ".3f"),
                    numeric=True,
                    bad=ratio is not None and not low <= ratio <= high,
                ),
                _td(_pct(s.get("masked_fraction")), numeric=True),
                _td(_pct(s.get("saturated_fraction")), numeric=True),
                _td(_e(masters)),
                _td(_flag_text(s.get("flags") or [])),
            ]
        )
    headers = [
        *("file", "status", "filter", "exp (s)", "DATE-OBS", "sky (ADU)", "sky (ADU/s)"),
        *("sky noise", "median σ", "noise ratio", "masked", "saturated", "masters used", "flags"),
    ]
    note = (
        "<p>Sky and sky noise: median and <code>mad_std</code> of the sky pixels after "
        f"3σ clipping; median σ: median of the uncertainty plane over the same pixels. The noise "
        f"ratio is 1 when the uncertainties match the scatter (accepted {low:g}-{high:g}).</p>"
    )
    return '<h2 id="science">Science frames</h2>' + note + _table(headers, rows)


def _master_extra(m: Mapping[str, Any]) -> str:
    kind = m.get("kind")
    quality = m.get("quality") or {}
    if kind == "dark":
        return (
            f"current {_num(m.get('current_median'), '.4g')} ADU/s (median), "
            f"{_num(m.get('current_mean'), '.4g')} (mean); "
            f"{_num(m.get('hot_pixels'), 'd')} hot pixels &gt; {_num(m.get('hot_threshold'))} ADU"
        )
    if kind == "flat":
        extra = f"below 0.5: {_pct(m.get('low_fraction'))}"
        if m.get("derived_from"):
            extra += f"; derived from {_e(m.get('derived_from'))}"
        return extra
    if kind == "bias" and quality.get("read_noise_adu") is not None:
        return f"read noise {_num(quality.get('read_noise_adu'), '.4g')} ADU (from the frames)"
    return ""


def _masters_section(masters: Sequence[Mapping[str, Any]]) -> str:
    if not masters:
        return '<h2 id="masters">Masters</h2><p>No masters.</p>'
    rows = []
    for m in masters:
        left = "<br>".join(_e(f"{r['file']}: {r['reason']}") for r in m.get("left_out") or [])
        rows.append(
            [
                _td(_link(m.get("file"), m.get("key") or "")),
                _td(_e(m.get("kind"))),
                _td(_e(m.get("source") or "")),
                _td(_e(m.get("status"))),
                _td(_e(m.get("binning") or "")),
                _td(_e(m.get("filter") or "")),
                _td(_num(m.get("exptime"), "g"), numeric=True),
                _td(_num(m.get("ncombine"), "d"), numeric=True),
                _td(_num(m.get("median"), ".6g"), numeric=True),
                _td(_num(m.get("robust_sigma"), ".4g"), numeric=True),
                _td(_pct(m.get("masked_fraction")), numeric=True),
                _td(_num(m.get("min"), ".4g"), numeric=True),
                _td(_num(m.get("max"), ".4g"), numeric=True),
                _td(_master_extra(m)),
                _td(left),
                _td(_flag_text(m.get("flags") or [])),
            ]
        )
    headers = [
        *("master", "kind", "source", "status", "bin", "filter", "exp (s)", "NCOMBINE"),
        *("median", "robust σ", "masked", "min", "max", "checks", "left out", "flags"),
    ]
    inputs = "".join(
        f"<li>{_e(m.get('key'))}: {_e(', '.join(m.get('inputs') or []))}</li>"
        for m in masters
        if m.get("inputs")
    )
    return (
        '<h2 id="masters">Masters</h2>'
        + _table(headers, rows)
        + (
            f'<details><summary>inputs</summary><ul class="plain">{inputs}</ul></details>'
            if inputs
            else ""
        )
    )


_CAPTIONS = {
    "science_trends.png": "Sky level and noise ratio of the science frames against time "
    "(shaded: the accepted noise ratios)",
    "flat_profiles.png": "Radial profiles of the master flats (derived flats dashed)",
}


def _plot(plots: Sequence[str], name: str) -> str:
    if name not in plots:
        return ""
    return (
        f'<figure class="plot"><img class="plot" src="{_e(name)}" alt="{_e(_CAPTIONS[name])}">'
        f"<figcaption>{_e(_CAPTIONS[name])}</figcaption></figure>"
    )


def _gallery(title: str, entries: Sequence[Mapping[str, Any]]) -> str:
    figures = []
    for entry in entries:
        thumb = entry.get("thumbnail")
        if not thumb:
            continue
        name = entry.get("file") or entry.get("key") or ""
        caption = f"{_e(entry.get('key'))}"
        if entry.get("filter"):
            caption += f" · {_e(entry.get('filter'))}"
        figures.append(
            f'<figure><a href="{_e(thumb)}"><img src="{_e(thumb)}" alt="{_e(name)}" '
            f'loading="lazy"></a><figcaption>{caption}</figcaption></figure>'
        )
    if not figures:
        return ""
    return f'<h3>{_e(title)}</h3><div class="gallery">{"".join(figures)}</div>'


# --------------------------------------------------------------------------- page


def render_html(metrics: Mapping[str, Any]) -> str:
    """The QA page (a complete HTML document) for ``metrics`` from :func:`qa_metrics`.

    Parameters
    ----------
    metrics : mapping
        What :func:`ccdcal.report.qa.qa_metrics` returns, optionally with
        ``thumbnail`` paths in its entries and ``plots`` (file names).

    Returns
    -------
    str

    Examples
    --------
    >>> flags = [{"severity": "error", "subject": "<bad>.fits", "check": "unreadable",
    ...           "message": "truncated"}]
    >>> page = render_html({"night": {}, "flags": flags, "masters": [], "science": []})
    >>> "&lt;bad&gt;.fits" in page and "<bad>" not in page
    True
    """
    night = metrics.get("night") or {}
    flags = metrics.get("flags") or []
    n_bad = sum(1 for f in flags if f.get("severity") in ("error", "warning"))
    status = (
        '<span class="ok">complete</span>'
        if night.get("complete", True)
        else '<span class="notok">partial: frames were skipped or failed</span>'
    )
    band = (metrics.get("checks") or {}).get("noise_ratio") or (0.8, 1.25)
    plots = list(metrics.get("plots") or [])
    title = f"ccdcal QA — {night.get('out_dir') or ''}"
    body = [
        f"<h1>{_e(title)}</h1>",
        (
            f'<p class="sub">{_e(night.get("headline"))} · run {status} · '
            f"{n_bad} flag(s) to look at · report generated {_e(metrics.get('generated'))}</p>"
        ),
        (
            '<p><a href="#flags">flags</a> · <a href="#night">night</a> · '
            '<a href="#science">science</a> · <a href="#masters">masters</a> · '
            '<a href="#thumbnails">thumbnails</a> · <a href="qa.json">qa.json</a></p>'
        ),
        _flags_section(flags),
        _night_section(night, metrics.get("seconds")),
        _science_section(metrics.get("science") or [], band),
        _plot(plots, "science_trends.png"),
        _masters_section(metrics.get("masters") or []),
        _plot(plots, "flat_profiles.png"),
    ]
    gallery = _gallery("Masters", metrics.get("masters") or []) + _gallery(
        "Science frames", metrics.get("science") or []
    )
    if gallery:
        body.append(
            '<h2 id="thumbnails">Thumbnails</h2><p>Block-averaged, zscale; north-up as in '
            "DS9 (first row at the bottom). Click for the full thumbnail.</p>" + gallery
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
