"""Launch a distributed target's ranks with torch's own launcher and fold their results.

The target's child process (audits.child) runs
`python -m torch.distributed.run --standalone --nproc-per-node N -m audits.distributed.rank
RUN_DIR`: --standalone rendezvouses on a store bound to port 0, so the operating system
picks a free port and two launches never race for one. The ranks write their results
into RUN_DIR; the launcher's own output goes to `launcher.log` there.

Nothing outlives a launch. torch's launcher starts each rank in a session of its own,
out of reach of the process group the runner kills on a timeout, so: at the deadline
the launcher gets SIGTERM (it then stops its ranks) and, after a grace period, SIGKILL;
each rank dies with its parent (foundation.process_tree.die_with_parent); and any rank
still running at the end is killed by pid. The deadline is the target's --timeout less
a margin, so that a hang ends here, as a result that quotes the ranks' logs, before
the runner has to kill the child.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from audits.audit import status_of
from audits.checks.common import CheckSettings
from audits.checks.distributed import fsdp2_missing_reason
from audits.child import log_tail
from audits.distributed.rank import JOB_FILE, STACK_DUMP_SIGNAL, rank_file
from audits.targets import DistributedSpec, Target, result_shell
from foundation.codec import from_jsonable
from foundation.process_tree import kill_leftovers, signal_processes
from reporting.schema.audit import CheckName, ErrorInfo, TargetResult, TargetStatus
from reporting.schema.basics import CheckStatus
from reporting.schema.distributed import DistributedResult, RankResult, Wrapper

LAUNCHER_LOG = "launcher.log"
STOP_GRACE_S = 5.0  # between the launcher's SIGTERM and its SIGKILL
STACK_DUMP_WAIT_S = 0.5  # for the ranks to write their stacks before they are stopped
# "Root Cause (first observed failure)": the rank torch's launcher saw fail first.
_ROOT_CAUSE = re.compile(r"Root Cause.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", re.DOTALL)
_TAIL_CHARS = 4000  # of each log quoted in an error


@dataclass(frozen=True, slots=True, kw_only=True)
class RankJob:
    """What every rank reads from RUN_DIR/job.pkl: how to build the target, and the settings."""

    load: Callable[[], Target]  # must pickle: a module-level function or a partial of one
    settings: CheckSettings
    threads: int = 1  # torch intra-op threads per rank


@dataclass(frozen=True, slots=True, kw_only=True)
class Launch:
    """What one launch of the ranks left behind."""

    results: tuple[RankResult, ...]  # of the ranks that finished, by rank
    errors: tuple[ErrorInfo, ...]  # of the ranks that raised, by rank
    missing: tuple[int, ...]  # ranks with neither: they died, or were stopped
    exit_code: int | None  # the launcher's; None when it was stopped at the deadline
    timed_out: bool
    seconds: float
    killed_leftovers: tuple[int, ...] = ()  # rank pids still running at the end, killed


def launcher_command(run_dir: Path, world_size: int) -> list[str]:
    launcher = f"torch.distributed.run --standalone --nproc-per-node={world_size} --max-restarts=0"
    return [sys.executable, "-m", *launcher.split(), "-m", "audits.distributed.rank", str(run_dir)]


def _rank_environment(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    # The ranks import the target as this process can: the same path, cwd first.
    path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    env["OMP_NUM_THREADS"] = str(threads)  # set, so the launcher prints no banner about it
    return env


def _rank_pids(run_dir: Path, world_size: int) -> list[int]:
    pids = []
    for rank in range(world_size):
        try:
            pids.append(int(rank_file(run_dir, rank, ".pid").read_text()))
        except (OSError, ValueError):
            continue
    return pids


def launch_ranks(job: RankJob, world_size: int, run_dir: Path, deadline_s: float) -> Launch:
    """Run the ranks to completion or until `deadline_s`; nothing of them is left running."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / JOB_FILE).write_bytes(pickle.dumps(job))
    start = time.perf_counter()
    with open(run_dir / LAUNCHER_LOG, "wb") as log:
        process = subprocess.Popen(
            launcher_command(run_dir, world_size),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_rank_environment(job.threads),
        )
    exit_code: int | None = None
    timed_out = False
    try:
        exit_code = process.wait(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        # Each rank's Python stack into its log: where it hung is the first thing to know.
        signal_processes(_rank_pids(run_dir, world_size), str(run_dir), STACK_DUMP_SIGNAL)
        time.sleep(STACK_DUMP_WAIT_S)
        process.send_signal(signal.SIGTERM)  # the launcher then stops its ranks
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE_S)
    finally:
        if process.poll() is None:  # past the grace period, or interrupted while waiting
            process.kill()
            process.wait()
        killed = kill_leftovers(_rank_pids(run_dir, world_size), marker=str(run_dir))
    seconds = time.perf_counter() - start
    results, errors, missing = [], [], []
    for rank in range(world_size):
        result, error = rank_file(run_dir, rank, ".json"), rank_file(run_dir, rank, ".error.json")
        if result.exists():
            results.append(from_jsonable(RankResult, json.loads(result.read_text())))
        elif error.exists():
            errors.append(from_jsonable(ErrorInfo, json.loads(error.read_text())))
        else:
            missing.append(rank)
    return Launch(
        results=tuple(results),
        errors=tuple(errors),
        missing=tuple(missing),
        exit_code=exit_code,
        timed_out=timed_out,
        seconds=seconds,
        killed_leftovers=killed,
    )


def _quoted(title: str, log: Path) -> str:
    return f"--- {title} ({log.name}) ---\n{log_tail(log, _TAIL_CHARS)}"


def _logs(run_dir: Path, ranks: tuple[int, ...]) -> str:
    parts = [_quoted(f"rank {r}", rank_file(run_dir, r, ".log")) for r in ranks]
    return "\n".join([*parts, _quoted("torch.distributed.run", run_dir / LAUNCHER_LOG)])


def _died(code: int) -> str:
    return f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"


def crash_message(launch: Launch, launcher_log: str) -> str:
    """Which rank died first and how, as torch's launcher reported it, and who it took along."""
    found = _ROOT_CAUSE.search(launcher_log)
    if found is None:
        missing = ", ".join(map(str, launch.missing)) or "none"
        code = launch.exit_code
        ended = "was stopped" if code is None else _died(code)
        return f"rank(s) {missing} ended without a result; the launcher {ended}"
    rank, code = int(found.group(1)), int(found.group(2))
    message = f"rank {rank} {_died(code)} before writing its result"
    others = [r for r in launch.missing if r != rank]
    if others:
        message += f"; torch.distributed.run then stopped rank(s) {', '.join(map(str, others))}"
    return message


def unsupported_reason(spec: DistributedSpec) -> str | None:
    """Why this torch cannot run the spec (no distributed package, no gloo, no FSDP2)."""
    import torch.distributed as dist

    if not dist.is_available():
        return "this torch was built without torch.distributed"
    if not dist.is_gloo_available():
        return "this torch was built without the gloo backend the ranks use on CPU"
    return fsdp2_missing_reason() if spec.wrapper is Wrapper.FSDP2 else None


def audit_distributed(
    target: Target,
    load: Callable[[], Target],
    settings: CheckSettings,
    *,
    run_dir: Path,
    deadline_s: float,
    threads: int = 1,
) -> TargetResult:
    """The distributed check on `target` (built again in each rank by `load`), as a result.

    A rank that raised makes the status error (its exception, rank named); ranks still
    running at the deadline, timeout; a rank that died without a result, crashed. Each
    error quotes the ranks' logs and the launcher's.
    """
    spec = target.distributed
    if spec is None:
        raise ValueError(f"target {target.name!r} is not distributed (its distributed is None)")
    try:
        pickle.dumps(load)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise TypeError(
            f"target {target.name!r}: its ranks rebuild it in other processes, so its loader "
            f"must pickle (a module-level function or a partial of one); {exc}"
        ) from exc
    start = time.perf_counter()
    empty = DistributedResult(
        status=CheckStatus.SKIPPED,
        wrapper=spec.wrapper,
        order=spec.order,
        world_size=spec.world_size,
        bucket_cap_mb=spec.bucket_cap_mb,
        min_graphs=spec.min_graphs,
        budget=target.recompile_budget,
    )
    base = result_shell(target)
    reason = unsupported_reason(spec)
    if reason is not None:
        skipped = replace(empty, skipped_reason=reason)
        return replace(base, distributed=skipped, duration_s=time.perf_counter() - start)
    # The ranks run on CPU with gloo whatever --device says; benchmarks and the optional
    # checks are not theirs.
    rank_settings = replace(settings, device="cpu", bench=False, optional=frozenset())
    job = RankJob(load=load, settings=rank_settings, threads=threads)
    launch = launch_ranks(job, spec.world_size, run_dir, deadline_s)
    complete = len(launch.results) == spec.world_size and launch.exit_code == 0
    if not complete:
        status = CheckStatus.ERROR  # what the ranks that finished found is kept beside
    elif all(r.passed for r in launch.results):
        status = CheckStatus.PASSED
    else:
        status = CheckStatus.FAILED
    found = replace(empty, status=status, ranks=launch.results, launch_s=launch.seconds)
    result = replace(base, distributed=found, duration_s=time.perf_counter() - start)
    finished = {r.rank for r in launch.results}
    unfinished = tuple(r for r in range(spec.world_size) if r not in finished)
    if launch.errors:
        first = launch.errors[0]
        error = replace(first, traceback=first.traceback + "\n" + _logs(run_dir, ()))
        return replace(result, status=TargetStatus.ERROR, error=error)
    if launch.timed_out:
        error = ErrorInfo(
            type="Timeout",
            message=f"rank(s) {', '.join(map(str, unfinished))} still running after "
            f"{deadline_s:g} s; the launcher and its ranks were killed",
            traceback=_logs(run_dir, unfinished),
            check=CheckName.DISTRIBUTED,
        )
        return replace(result, status=TargetStatus.TIMEOUT, error=error)
    if not complete:
        error = ErrorInfo(
            type="Crashed",
            message=crash_message(launch, log_tail(run_dir / LAUNCHER_LOG, _TAIL_CHARS)),
            traceback=_logs(run_dir, launch.missing),
            check=CheckName.DISTRIBUTED,
        )
        return replace(result, status=TargetStatus.CRASHED, error=error)
    return replace(result, status=status_of(result))
