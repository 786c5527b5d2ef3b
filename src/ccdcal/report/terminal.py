"""Terminal output of the pipeline: rich tables of a plan and of a run, and stage progress bars.

These build renderables; the CLI prints them (the library itself never prints).

Examples
--------
>>> from rich.console import Console
>>> from ccdcal.pipeline import Plan
>>> console = Console(width=100, record=True)
>>> for item in plan_renderables(Plan()):
...     console.print(item)
Frames: none found
>>> "none found" in console.export_text()
True
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ccdcal.pipeline.describe import frames_line

if TYPE_CHECKING:
    from ccdcal.pipeline.plan import Plan
    from ccdcal.pipeline.results import RunResult
    from ccdcal.pipeline.run import ProgressEvent

__all__ = ["StageProgress", "plan_renderables", "run_renderables"]

_STAGE_LABELS = {
    "bias": "master bias",
    "dark": "master dark",
    "flat": "master flat",
    "derived": "rebinned flats",
    "science": "science frames",
}
_STATUS_STYLE = {
    "built": "green",
    "reused": "cyan",
    "failed": "bold red",
    "skipped": "yellow",
    "library": "magenta",
}
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def _masters_table(plan: Plan) -> Table:
    table = Table(title="Masters", title_justify="left", show_edge=False, pad_edge=False)
    for col in ("key", "kind", "bin", "filter", "exp (s)", "from", "inputs", "left out"):
        table.add_column(col)
    for m in plan.masters:
        origin = {"tonight": "tonight", "derived": f"{m.derived_from}", "library": "library"}
        table.add_row(
            m.key,
            m.kind,
            m.binning,
            m.filter or "" if m.kind == "flat" else "",
            f"{m.exptime:g}" if m.kind == "dark" and m.exptime is not None else "",
            origin[m.source],
            str(len(m.inputs)) if m.source == "tonight" else "",
            str(len(m.rejected)) if m.rejected else "",
        )
    return table


def _science_table(plan: Plan, limit: int) -> Table:
    table = Table(title="Science frames", title_justify="left", show_edge=False, pad_edge=False)
    for col in ("raw file", "bin", "filter", "exp (s)", "bias", "dark", "flat"):
        table.add_column(col)
    for s in plan.science[:limit]:
        f = s.frame
        table.add_row(
            Path(f.path).name,
            f.binning,
            f.filter or "",
            f"{f.exptime:g}" if f.exptime is not None else "",
            s.bias or Text("none", style="yellow"),
            s.dark or Text("none", style="yellow"),
            s.flat or Text("none", style="yellow"),
        )
    if len(plan.science) > limit:
        table.add_row(f"... {len(plan.science) - limit} more", "", "", "", "", "", "")
    return table


def _problems_table(plan: Plan) -> Table | None:
    if not plan.problems and not plan.skipped:
        return None
    table = Table(title="Problems", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("file")
    table.add_column("what")
    skipped = {s.path for s in plan.skipped}
    for p in plan.problems:
        sev = "warning" if p.path in skipped else p.severity
        table.add_row(
            Text(sev, style=_SEVERITY_STYLE.get(sev, "")),
            p.kind,
            Path(p.path).name if p.path else "",
            p.message,
        )
    return table


def plan_renderables(plan: Plan, *, limit: int = 40) -> list[RenderableType]:
    """What ``ccdcal plan`` prints: counts, masters, science matching, problems."""
    items: list[RenderableType] = [Text(frames_line(plan))]
    if plan.masters:
        items.append(_masters_table(plan))
    if plan.science:
        items.append(_science_table(plan, limit))
    problems = _problems_table(plan)
    if problems is not None:
        items.append(problems)
    return items


def run_renderables(result: RunResult) -> list[RenderableType]:
    """What ``ccdcal reduce`` prints at the end: a status table and the headline."""
    table = Table(title="Run summary", title_justify="left", show_edge=False, pad_edge=False)
    for col in ("output", "kind", "status", "s", "note"):
        table.add_column(col)
    rows: list[Any] = [*result.masters.values()]
    rows += [s for s in result.science if not s.ok]
    for r in rows:
        note = r.message
        if r.rejected:
            note = (note + "; " if note else "") + "; ".join(
                f"left out {Path(p).name}: {why}" for p, why in r.rejected
            )
        table.add_row(
            Path(r.output).name if r.output else r.key,
            r.kind,
            Text(r.status, style=_STATUS_STYLE.get(r.status, "")),
            f"{r.seconds:.1f}",
            note,
        )
    counts: dict[str, int] = {}
    for s in result.science:
        counts[s.status] = counts.get(s.status, 0) + 1
    science = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"
    style = "green" if result.complete else "yellow"
    head = Text(f"{result.headline()} in {result.seconds:.1f} s", style=style)
    items: list[RenderableType] = [table, Text(f"Science frames: {science}"), head]
    items.append(Text(f"Outputs in {result.out_dir} (run-summary.json, ccdcal.log)", style="dim"))
    return items


class StageProgress:
    """A progress callback showing one rich bar per stage.

    >>> from ccdcal.pipeline.run import ProgressEvent
    >>> with StageProgress(Console(quiet=True)) as show:
    ...     show(ProgressEvent("bias", "start", total=2))
    ...     show(ProgressEvent("bias", "advance", done=1, total=2, key="bias_1x1"))
    >>> show.progress.tasks[0].completed
    1
    """

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[last]}", style="dim"),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> StageProgress:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def __call__(self, event: ProgressEvent) -> None:
        """Update the bar of ``event.stage``."""
        if event.event == "start":
            if event.total == 0:
                return
            label = _STAGE_LABELS.get(event.stage, event.stage)
            self.tasks[event.stage] = self.progress.add_task(label, total=event.total, last="")
            return
        task = self.tasks.get(event.stage)
        if task is None:
            return
        if event.event == "advance":
            last = f"{event.key} {event.status}" if event.key else ""
            self.progress.update(task, completed=event.done, last=last)
        elif event.event == "end":
            self.progress.update(task, completed=event.total, last="")
