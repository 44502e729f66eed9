"""Run each target in its own forked subprocess, with a timeout, `jobs` at a time.

A target can hang, segfault or run out of memory; its subprocess dies alone
and the result says timeout or crashed, with the tail of what it printed.

The parent imports torch and the compile stack but never runs a torch op, so
every child starts with the imports paid (about 2 s each otherwise) and with
no thread pool, CUDA context or dynamo cache to inherit. Each child gets its
own process group, so a timeout also kills the compile workers it started.
"""

from __future__ import annotations

import faulthandler
import importlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from audits.audit import audit_target
from audits.checks.common import CheckSettings
from audits.jsoncodec import from_jsonable, to_jsonable
from audits.results import CheckName, ErrorInfo, TargetResult, TargetStatus
from audits.targets import Target

_POLL_S = 0.05
_LOG_TAIL_CHARS = 8000


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A target as the parent knows it before the child builds it."""

    name: str
    group: str
    description: str = ""
    expected_flags: tuple[CheckName, ...] = ()
    informational: bool = False
    cost: float = 1.0  # relative run time; costly jobs start first so the run ends sooner
    load: Callable[[], Target]


def job_for_target(target: Target) -> Job:
    # A scenario step can compile again; everything else compiles about twice.
    cost = 1.0 + len(target.scenario) / 4 + len(target.bad_inputs) / 2
    return Job(
        name=target.name,
        group=target.group,
        description=target.description,
        expected_flags=target.expected_flags,
        informational=target.informational,
        cost=cost,
        load=lambda: target,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerSettings:
    checks: CheckSettings
    timeout_s: float = 300.0
    jobs: int = 1
    threads_per_job: int = 1  # torch intra-op threads in each child


class ProgressSink(Protocol):
    def started(self, job: Job) -> None: ...
    def check(self, job: Job, check: str) -> None: ...
    def tick(self) -> None: ...
    def finished(self, job: Job, result: TargetResult) -> None: ...


# What a first compilation imports lazily (measured with torch 2.13): about
# 1 s per child for aot_eager and more for inductor when left to each child.
# aot_eager goes through inductor's decompositions, hence the inductor modules.
_COMPILE_STACK = (
    "torch._dynamo",
    "torch._dynamo.backends.debugging",
    "torch._dynamo.backends.inductor",
    "torch._dynamo.repro.after_aot",
    "torch._dynamo.testing",
    "torch._functorch.aot_autograd",
    "torch.fx.experimental.symbolic_shapes",
    "torch.export._trace",
    "torch._inductor.async_compile",
    "torch._inductor.codecache",
    "torch._inductor.codegen.cpp",
    "torch._inductor.codegen.wrapper",
    "torch._inductor.compile_fx",
    "torch._inductor.decomposition",
    "torch._inductor.fx_passes.post_grad",
    "torch._inductor.graph",
    "torch._inductor.kernel.mm",
    "torch._inductor.lowering",
    "torch._inductor.pattern_matcher",
    "torch._inductor.scheduler",
    "torch._inductor.select_algorithm",
)


def preload_compile_stack() -> None:
    """Import what the first compilation would import, without running a torch op."""
    for name in _COMPILE_STACK:
        try:
            importlib.import_module(name)
        except ImportError:  # another torch version lays its modules out differently
            continue


# ----------------------------------------------------------------- child side
def _child_main(job: Job, settings: RunnerSettings, workdir: Path, index: int) -> None:
    log = os.open(workdir / f"{index}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    # Python-level output too, whatever the parent had put in sys.stdout/stderr.
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    # A segfault or abort then leaves its Python stack in the log, which the
    # crashed result quotes.
    faulthandler.enable(file=log, all_threads=True)
    import torch
    import torch._inductor.config

    torch.set_num_threads(settings.threads_per_job)
    # On by default in torch 2.13; set here so that a run never depends on it. Kernels
    # compiled by one target are then reused by the next and by the next run.
    torch._inductor.config.fx_graph_cache = True
    check_file = workdir / f"{index}.check"

    def on_check(check: CheckName) -> None:
        check_file.write_text(check.value)

    try:
        result = audit_target(job.load(), settings.checks, on_check=on_check)
    except Exception as exc:  # the factory itself failed: still a result
        result = _placeholder(job, TargetStatus.ERROR, _error(exc, traceback.format_exc()))
    tmp = workdir / f"{index}.json.tmp"
    tmp.write_text(json.dumps(to_jsonable(result), allow_nan=False))
    tmp.rename(workdir / f"{index}.json")


def _error(exc: BaseException, tb: str) -> ErrorInfo:
    return ErrorInfo(type=type(exc).__name__, message=str(exc), traceback=tb)


def _placeholder(
    job: Job, status: TargetStatus, error: ErrorInfo, duration_s: float = 0.0
) -> TargetResult:
    return TargetResult(
        name=job.name,
        group=job.group,
        description=job.description,
        status=status,
        expected_flags=job.expected_flags,
        informational=job.informational,
        error=error,
        duration_s=duration_s,
    )


# ----------------------------------------------------------------- parent side
@dataclass(slots=True)
class _Running:
    index: int
    job: Job
    started: float
    last_check: str = ""


def _log_tail(workdir: Path, index: int) -> str:
    try:
        text = (workdir / f"{index}.log").read_text(errors="replace")
    except OSError:
        return ""
    # faulthandler ends a crash dump with the list of loaded extension modules, which
    # in a big process is long enough to push the Python stack out of the tail.
    text = text.split("\nExtension modules:", 1)[0]
    return text[-_LOG_TAIL_CHARS:]


def _collect(run: _Running, status: int, workdir: Path) -> TargetResult:
    duration = time.perf_counter() - run.started
    path = workdir / f"{run.index}.json"
    if path.exists():
        return from_jsonable(TargetResult, json.loads(path.read_text()))
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        what = f"killed by {signal.Signals(sig).name}"
        if sig == signal.SIGKILL:
            what += " (out of memory?)"
    else:
        what = f"exited with code {os.WEXITSTATUS(status)} before writing its result"
    error = ErrorInfo(type="Crashed", message=what, traceback=_log_tail(workdir, run.index))
    return _placeholder(run.job, TargetStatus.CRASHED, error, duration)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _fork(job: Job, settings: RunnerSettings, workdir: Path, index: int) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: never return into the parent's code
        code = 0
        try:
            os.setpgid(0, 0)
            _child_main(job, settings, workdir, index)
        except BaseException:  # noqa: BLE001 - reported through the missing result file
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    try:
        os.setpgid(pid, pid)  # also here: the parent may kill before the child runs
    except (PermissionError, ProcessLookupError):
        pass  # the child already did it, or already exited
    return pid


def run_jobs(
    jobs: list[Job], settings: RunnerSettings, workdir: Path, sink: ProgressSink | None = None
) -> list[TargetResult]:
    """Run every job in a forked child; results come back in `jobs` order."""
    results: dict[int, TargetResult] = {}
    pending = sorted(enumerate(jobs), key=lambda item: -item[1].cost)
    running: dict[int, _Running] = {}
    try:
        while pending or running:
            while pending and len(running) < settings.jobs:
                index, job = pending.pop(0)
                pid = _fork(job, settings, workdir, index)
                running[pid] = _Running(index=index, job=job, started=time.perf_counter())
                if sink:
                    sink.started(job)
            for pid, run in list(running.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    result = _collect(run, status, workdir)
                elif time.perf_counter() - run.started > settings.timeout_s:
                    _kill_group(pid)
                    os.waitpid(pid, 0)
                    error = ErrorInfo(
                        type="Timeout",
                        message=f"still running after {settings.timeout_s:g} s; killed",
                        traceback=_log_tail(workdir, run.index),
                    )
                    result = _placeholder(run.job, TargetStatus.TIMEOUT, error, settings.timeout_s)
                else:
                    if sink:
                        _report_check(run, workdir, sink)
                    continue
                _kill_group(pid)  # compile workers the child left behind
                del running[pid]
                results[run.index] = result
                if sink:
                    sink.finished(run.job, result)
            if sink:
                sink.tick()
            time.sleep(_POLL_S)
    finally:
        for pid in running:  # interrupted: leave no orphans
            _kill_group(pid)
            os.waitpid(pid, 0)
    return [results[i] for i in range(len(jobs))]


def error_in_child(fn: Callable[[], object], timeout_s: float = 120.0) -> str | None:
    """Run `fn` in a forked child; its exception message, or None when it returned.

    For work that must not leave state in the parent, such as importing a user's
    module: a module that runs torch ops at import time would otherwise start
    the thread pool that forked targets cannot use.
    """
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        message = b""
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - sent to the parent
            message = (str(exc) or type(exc).__name__).encode()
        finally:
            os.write(write_end, message)
            os._exit(0)
    os.close(write_end)
    deadline = time.perf_counter() + timeout_s
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while time.perf_counter() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                chunks.append(pipe.read())
                break
            time.sleep(_POLL_S)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return f"still running after {timeout_s:g} s"
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    text = b"".join(chunks).decode(errors="replace")
    return text or None


def _report_check(run: _Running, workdir: Path, sink: ProgressSink) -> None:
    try:
        check = (workdir / f"{run.index}.check").read_text()
    except OSError:
        return
    if check and check != run.last_check:
        run.last_check = check
        sink.check(run.job, check)
