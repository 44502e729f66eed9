"""Run each target in its own subprocess, with a timeout, `jobs` at a time.

A target can hang, segfault or run out of memory; its subprocess dies alone
and the result says timeout or crashed, with the tail of what it printed. A
target whose check trips a device-side assert gets a fresh subprocess for the
checks still to do (audits.checks.device_fault), and one result for both.

Children start with fork on a CPU-only build of torch and from a forkserver
otherwise (foundation.processes). The parent imports torch and the compile stack
but never runs a torch op, so a forked child starts with the imports paid
(about 2 s each otherwise) and with no thread pool or dynamo cache to inherit.
Each child gets its own process group, so a timeout also kills the compile
workers it started. SIGINT and SIGTERM stop the run (`interrupts_caught`): the
children are killed and the targets that had not finished come back "not run".
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

from audits.audit import merge_parts
from audits.child import Job, RunnerSettings, child_entry, log_tail, placeholder
from audits.targets import Target, identity
from foundation.codec import from_jsonable
from foundation.processes import call_in_child, process_context, safe_start_method
from reporting.schema.audit import CheckName, ErrorInfo, TargetResult, TargetStatus

_POLL_S = 0.05
_LOG_TAIL_CHARS = 8000


def job_for_target(target: Target, load: Callable[[], Target] | None = None) -> Job:
    """A job for `target`; `load` rebuilds it in the child (needed unless children fork)."""
    # A scenario step can compile again; everything else compiles about twice.
    cost = 1.0 + len(target.scenario) / 4 + len(target.bad_inputs) / 2
    if target.distributed is not None:  # a launcher and its ranks, each importing torch
        cost = 2.0 + target.distributed.world_size
    return Job(**identity(target), cost=cost, load=load or (lambda: target))


class ProgressSink(Protocol):
    def started(self, job: Job) -> None: ...
    def check(self, job: Job, check: str) -> None: ...
    def tick(self) -> None: ...
    def finished(self, job: Job, result: TargetResult) -> None: ...


@dataclass(slots=True)
class Interrupt:
    """The signal that asked the run to stop, once one has."""

    signum: int | None = None


@contextlib.contextmanager
def interrupts_caught() -> Iterator[Interrupt]:
    """SIGINT and SIGTERM set the flag instead of killing the parent, until the block ends."""
    flag = Interrupt()

    def note(signum: int, _frame: Any) -> None:
        flag.signum = signum

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@dataclass(slots=True)
class _Queued:
    index: int
    job: Job
    skip: frozenset[CheckName] = frozenset()
    earlier: TargetResult | None = None  # what the process before a device fault found


@dataclass(slots=True)
class _Running:
    queued: _Queued
    process: BaseProcess
    started: float
    last_check: str = ""


def _log_tail(workdir: Path, index: int) -> str:
    return log_tail(workdir / f"{index}.log", _LOG_TAIL_CHARS)


def _collect(
    run: _Running, exitcode: int, workdir: Path
) -> tuple[TargetResult, frozenset[CheckName] | None]:
    index, job = run.queued.index, run.queued.job
    path = workdir / f"{index}.json"
    if path.exists():
        data = json.loads(path.read_text())
        path.unlink()  # a rerun writes its own
        skip = data["rerun_skip"]
        return (
            from_jsonable(TargetResult, data["result"]),
            None if skip is None else frozenset(CheckName(c) for c in skip),
        )
    if exitcode < 0:
        sig = -exitcode
        what = f"killed by {signal.Signals(sig).name}"
        if sig == signal.SIGKILL:
            what += " (out of memory?)"
    else:
        what = f"exited with code {exitcode} before writing its result"
    error = ErrorInfo(type="Crashed", message=what, traceback=_log_tail(workdir, index))
    duration = time.perf_counter() - run.started
    return placeholder(job, TargetStatus.CRASHED, error, duration), None


def _kill(process: BaseProcess) -> None:
    """Kill the child's process group (its compile workers too), or the child alone."""
    pid = process.pid
    assert pid is not None
    try:
        os.killpg(pid, signal.SIGKILL)
    # ProcessLookupError: no such group, the child had not called setpgid yet;
    # PermissionError: a forkserver child still in the server's group.
    except (ProcessLookupError, PermissionError):
        if process.exitcode is None:
            process.kill()


def _start(
    context: BaseContext, queued: _Queued, settings: RunnerSettings, workdir: Path
) -> _Running:
    process = context.Process(  # type: ignore[attr-defined]
        target=child_entry,
        args=(queued.job, settings, workdir, queued.index, queued.skip),
        name=f"audit-{queued.index}",
    )
    process.start()
    try:
        os.setpgid(process.pid, process.pid)  # also here: the parent may kill before the child runs
    except OSError:
        pass  # the child already did it, exited, or is not ours (a forkserver's child)
    return _Running(queued=queued, process=process, started=time.perf_counter())


def _finish(
    run: _Running, workdir: Path, settings: RunnerSettings
) -> tuple[TargetResult, frozenset[CheckName] | None] | None:
    """The result of a child that ended or ran out of time; None while it runs."""
    exitcode = run.process.exitcode
    if exitcode is not None:
        return _collect(run, exitcode, workdir)
    if time.perf_counter() - run.started <= settings.timeout_s:
        return None
    _kill(run.process)
    run.process.join()
    error = ErrorInfo(
        type="Timeout",
        message=f"still running after {settings.timeout_s:g} s; killed",
        traceback=_log_tail(workdir, run.queued.index),
    )
    return placeholder(run.queued.job, TargetStatus.TIMEOUT, error, settings.timeout_s), None


def run_jobs(
    jobs: list[Job],
    settings: RunnerSettings,
    workdir: Path,
    sink: ProgressSink | None = None,
    interrupt: Interrupt | None = None,
) -> list[TargetResult]:
    """Run every job in a child; results come back in `jobs` order.

    Once `interrupt` holds a signal, no job starts, the running ones are killed, and
    every job without a result comes back with status "not run".
    """
    context = process_context(settings.start_method)
    results: dict[int, TargetResult] = {}
    pending = [_Queued(i, j) for i, j in sorted(enumerate(jobs), key=lambda item: -item[1].cost)]
    running: list[_Running] = []
    try:
        while (pending or running) and not (interrupt and interrupt.signum):
            while pending and len(running) < settings.jobs:
                queued = pending.pop(0)
                running.append(_start(context, queued, settings, workdir))
                if sink and queued.earlier is None:
                    sink.started(queued.job)
            for run in list(running):
                finished = _finish(run, workdir, settings)
                if finished is None:
                    if sink:
                        _report_check(run, workdir, sink)
                    continue
                _kill(run.process)  # compile workers the child left behind
                run.process.join()
                running.remove(run)
                result, rerun_skip = finished
                queued = run.queued
                if queued.earlier is not None:
                    result = merge_parts(queued.earlier, result)
                if rerun_skip is not None:  # a device fault: the rest in a fresh process
                    pending.insert(0, _Queued(queued.index, queued.job, rerun_skip, result))
                    continue
                results[queued.index] = result
                if sink:
                    sink.finished(queued.job, result)
            if sink:
                sink.tick()
            time.sleep(_POLL_S)
    finally:
        for run in running:  # interrupted: leave no orphans
            _kill(run.process)
            run.process.join()
    return [
        results.get(i) or placeholder(job, TargetStatus.NOT_RUN, None) for i, job in enumerate(jobs)
    ]


def error_in_child(
    fn: Callable[[], object], timeout_s: float = 120.0, start_method: str | None = None
) -> str | None:
    """Run `fn` in a child process; its exception message, or None when it returned.

    For work that must not leave state in the parent, such as importing a user's
    module: a module that runs torch ops (or touches CUDA) at import time would
    otherwise start the thread pool that forked targets cannot use. With forkserver
    or spawn, `fn` must be picklable (a module-level function or a partial of one).
    The start method defaults to what `auto` picks for this build of torch.
    """
    method = start_method or safe_start_method()
    ok, outcome = call_in_child(
        partial(_returns_none, fn), start_method=method, timeout_s=timeout_s
    )
    return None if ok else str(outcome)


def _returns_none(fn: Callable[[], object]) -> None:
    fn()  # whatever fn returns need not pickle


def _report_check(run: _Running, workdir: Path, sink: ProgressSink) -> None:
    try:
        check = (workdir / f"{run.queued.index}.check").read_text()
    except OSError:
        return
    if check and check != run.last_check:
        run.last_check = check
        sink.check(run.queued.job, check)
