"""Live progress on a terminal: running targets, their current check, elapsed time.

Only used when stderr is a TTY; the run is otherwise quiet (or, with -v, one
line per finished target). Refreshed from the runner's loop, never from a
thread of its own: the runner forks, and a fork must not catch a thread
holding the console lock.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from audits.child import Job
from reporting.schema.audit import TargetResult

if TYPE_CHECKING:
    from rich.table import Table


class RichProgress:
    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.live import Live

        self._total = total
        self._done = 0
        self._start = time.perf_counter()
        self._running: dict[str, tuple[float, str]] = {}
        self._last_refresh = 0.0
        self._console = Console(stderr=True)
        self._live = Live(
            console=self._console,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
            transient=True,
        )

    def __enter__(self) -> RichProgress:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()

    def _render(self) -> Table:
        from rich.table import Table

        now = time.perf_counter()
        table = Table.grid(padding=(0, 2))
        table.add_row(
            f"[bold]audit[/] {self._done}/{self._total} done", f"{now - self._start:.0f} s", ""
        )
        for name, (started, check) in self._running.items():
            table.add_row(f"  {name}", check or "starting", f"{now - started:.1f} s")
        return table

    def _refresh(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._last_refresh > 0.25:
            self._last_refresh = now
            self._live.update(self._render(), refresh=True)

    def started(self, job: Job) -> None:
        self._running[job.name] = (time.perf_counter(), "")
        self._refresh(force=True)

    def check(self, job: Job, check: str) -> None:
        started, _ = self._running.get(job.name, (time.perf_counter(), ""))
        self._running[job.name] = (started, check)
        self._refresh(force=True)

    def tick(self) -> None:
        self._refresh()

    def finished(self, job: Job, result: TargetResult) -> None:
        self._running.pop(job.name, None)
        self._done += 1
        self._console.print(f"{result.status.value:>8}  {job.name}  ({result.duration_s:.1f} s)")
        self._refresh(force=True)


class LineProgress:
    """-v without a terminal: one line per finished target on stderr."""

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def started(self, job: Job) -> None:
        pass

    def check(self, job: Job, check: str) -> None:
        pass

    def tick(self) -> None:
        pass

    def finished(self, job: Job, result: TargetResult) -> None:
        print(f"{result.status.value:>8}  {job.name}  ({result.duration_s:.1f} s)", file=sys.stderr)
