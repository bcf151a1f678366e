"""Live feedback for ``fusionkit run``: a progress bar with ETA and the latest finished task on
a terminal; plain, timestamped lines every ``every`` seconds (and at each stage's end) when the
output is a file or a pipe (SLURM, nohup, CI logs), so a long run is never silent."""

from __future__ import annotations

import time
from contextlib import contextmanager


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class LineProgress:
    """``runner.Progress`` writing one line per stage every ``every`` seconds."""

    def __init__(self, console, every: float = 30.0, clock=time.monotonic) -> None:
        self.console, self.every, self.clock = console, every, clock
        self.started: dict[str, float] = {}
        self.first: dict[str, tuple[float, int]] = {}  # when the first task finished
        self.last_line: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int, latest: str = "") -> None:
        now = self.clock()
        start = self.started.setdefault(stage, now)
        if total == 0:
            return
        if done > 0:
            self.first.setdefault(stage, (now, done))
        due = now - self.last_line.get(stage, start) >= self.every
        if not (due or done == total or (done == 0 and stage not in self.last_line)):
            return
        self.last_line[stage] = now
        elapsed = now - start
        # the rate since the stage's first finished task (a stage may wait for another first)
        t0, d0 = self.first.get(stage, (start, 0))
        known = done > d0 and now > t0  # a rate needs two finished tasks
        eta = f", ETA {_clock((now - t0) / (done - d0) * (total - done))}" if known else ""
        eta = eta if done < total else ""
        tail = f"; last: {latest}" if latest else ""
        self.console.print(
            f"[{time.strftime('%H:%M:%S')}] {stage} {done}/{total} ({done / total:.0%}), "
            f"elapsed {_clock(elapsed)}{eta}{tail}",
            highlight=False,
            soft_wrap=True,
        )


@contextmanager
def run_progress(console):
    """The ``progress`` callback for `run_experiment`: a rich bar on a terminal, else lines."""
    if not console.is_terminal:
        yield LineProgress(console), None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        "ETA",
        TimeRemainingColumn(),
        "{task.fields[latest]}",
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int, latest: str = "") -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, latest="")
            shown = f"[dim]{latest}[/dim]" if latest else ""
            bar.update(tasks[stage], completed=done, total=total, latest=shown)

        yield update, bar
