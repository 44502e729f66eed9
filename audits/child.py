"""The child side of the runner: audit one target in this process and write the result.

A child starts in its own process group (so that the parent can kill the compile
workers it starts), sends its output to a log the parent quotes when it crashes, and
writes `<index>.json` (the result, and which checks a fresh process must skip when a
device fault ended this one early) atomically: the parent sees the whole file or none.
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
from dataclasses import dataclass, field
from pathlib import Path

from audits.audit import AuditPart, audit_target_part
from audits.checks.common import CheckSettings
from audits.targets import Target, result_shell
from foundation.codec import to_jsonable
from foundation.files import atomic_write_text
from foundation.processes import add_forkserver_preload, safe_start_method
from reporting.schema.audit import CheckName, ErrorInfo, TargetResult, TargetStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A target as the parent knows it before the child builds it.

    With the forkserver and spawn start methods the job travels to the child by
    pickle, so `load` must then be a module-level function (or a partial of one).
    """

    name: str
    group: str
    description: str = ""
    expected_flags: tuple[CheckName, ...] = ()
    informational: bool = False
    cost: float = 1.0  # relative run time; costly jobs start first so the run ends sooner
    load: Callable[[], Target]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerSettings:
    checks: CheckSettings
    timeout_s: float = 300.0
    jobs: int = 1
    threads_per_job: int = 1  # torch intra-op threads in each child
    # fork only on a CPU-only build of torch: on a CUDA build a forked child fails its
    # first backward once the parent has run one ("Unable to handle autograd's
    # threading in combination with fork-based multiprocessing", torch 2.14.1+cu130).
    start_method: str = field(default_factory=safe_start_method)


# What a first compilation imports lazily (measured with torch 2.13): about
# 1 s per child for aot_eager and more for inductor when left to each child.
# aot_eager goes through inductor's decompositions, hence the inductor modules.
COMPILE_STACK = tuple(
    """
    torch._dynamo torch._dynamo.backends.debugging torch._dynamo.backends.inductor
    torch._dynamo.repro.after_aot torch._dynamo.testing torch._functorch.aot_autograd
    torch.fx.experimental.symbolic_shapes torch.export._trace torch._inductor.async_compile
    torch._inductor.codecache torch._inductor.codegen.cpp torch._inductor.codegen.wrapper
    torch._inductor.compile_fx torch._inductor.decomposition torch._inductor.fx_passes.post_grad
    torch._inductor.graph torch._inductor.kernel.mm torch._inductor.lowering
    torch._inductor.pattern_matcher torch._inductor.scheduler torch._inductor.select_algorithm
    """.split()
)
# A forkserver (on CUDA builds) imports these and this module once for all children.
add_forkserver_preload(*COMPILE_STACK, __name__)


def preload_compile_stack() -> None:
    """Import what the first compilation would import, without running a torch op."""
    for name in COMPILE_STACK:
        try:
            importlib.import_module(name)
        except ImportError:  # another torch version lays its modules out differently
            continue


def child_entry(
    job: Job,
    settings: RunnerSettings,
    workdir: Path,
    index: int,
    skip: frozenset[CheckName] = frozenset(),
) -> None:
    """The process's whole life; exits through os._exit so no parent code runs after it."""
    code = 0
    try:
        os.setpgid(0, 0)
        # A forked child inherits the parent's interrupt handlers; it must die of these.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _audit_one(job, settings, workdir, index, skip)
    except BaseException:  # noqa: BLE001 - reported through the missing result file
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _audit_one(
    job: Job, settings: RunnerSettings, workdir: Path, index: int, skip: frozenset[CheckName]
) -> None:
    started = time.perf_counter()
    log = os.open(workdir / f"{index}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
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
        target = job.load()
        if target.distributed is None:
            part = audit_target_part(target, settings.checks, skip=skip, on_check=on_check)
        else:
            part = AuditPart(
                result=_audit_distributed(job, target, settings, workdir, index, started)
            )
    except Exception as exc:  # the factory itself failed: still a result
        error = ErrorInfo(
            type=type(exc).__name__, message=str(exc), traceback=traceback.format_exc()
        )
        part = AuditPart(result=placeholder(job, TargetStatus.ERROR, error))
    write_part(workdir, index, part)


# Of the target's --timeout, what a distributed target leaves itself to stop its ranks
# and write the result, so that a hang ends as a result quoting the ranks' logs.
DISTRIBUTED_STOP_MARGIN_S = 15.0


def _audit_distributed(
    job: Job, target: Target, settings: RunnerSettings, workdir: Path, index: int, started: float
) -> TargetResult:
    from audits.distributed.launch import audit_distributed

    (workdir / f"{index}.check").write_text(CheckName.DISTRIBUTED.value)
    spent = time.perf_counter() - started
    world_size = target.distributed.world_size if target.distributed else 1
    return audit_distributed(
        target,
        job.load,
        settings.checks,
        run_dir=workdir / f"{index}.ranks",
        deadline_s=max(1.0, settings.timeout_s - DISTRIBUTED_STOP_MARGIN_S - spent),
        threads=max(1, settings.threads_per_job // world_size),
    )


def log_tail(path: Path, chars: int) -> str:
    """The last `chars` of a log, up to the list of loaded extension modules with which
    faulthandler ends a crash dump: in a big process it pushes the stack out of the tail."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text.split("\nExtension modules:", 1)[0][-chars:]


def placeholder(
    job: Job, status: TargetStatus, error: ErrorInfo | None, duration_s: float = 0.0
) -> TargetResult:
    return result_shell(job, status=status, error=error, duration_s=duration_s)


def write_part(workdir: Path, index: int, part: AuditPart) -> None:
    skip = None if part.rerun_skip is None else sorted(c.value for c in part.rerun_skip)
    document = {"result": to_jsonable(part.result), "rerun_skip": skip}
    atomic_write_text(workdir / f"{index}.json", json.dumps(document, allow_nan=False))
