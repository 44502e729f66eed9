"""Distributed targets: DDP and FSDP2 wrappers run as 2 gloo ranks through torch's launcher.

The fast tests need no rank: the spec's validation, the result's codec and verdict, the
launcher's crash message, the CLI flag, and the process-tree helpers. The slow ones
launch `python -m torch.distributed.run` through the audit's runner (tens of seconds
each on a loaded 2-core machine) and check that nothing of a launch is left running.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from support import distributed_targets

import audits.child
from audits.audit import audit_target_part, status_of
from audits.checks.common import CheckSettings
from audits.distributed.launch import Launch, crash_message
from audits.options import parse_config
from audits.run import select_jobs
from audits.runner import Job, RunnerSettings, run_jobs
from audits.targets import DistributedSpec, ScenarioStep, Target
from foundation.cli import UsageError
from foundation.codec import from_jsonable, to_jsonable
from foundation.process_tree import kill_leftovers
from reporting.schema.audit import CheckName, FailOn, TargetResult, TargetStatus
from reporting.schema.basics import CheckStatus, TensorDiff
from reporting.schema.distributed import DistributedResult, RankResult, Wrapper

SAME = TensorDiff(name="output", max_abs=0.0, max_rel=0.0, atol=1e-5, rtol=1e-4, passed=True)


def _rank(rank: int, *, graphs: int = 2, passed: bool = True) -> RankResult:
    return RankResult(
        rank=rank,
        dynamo_graphs=1,
        compiled_graphs=graphs,
        buckets=(graphs,),
        ops_per_graph=(2, 3),
        calls=2,
        total_compiles=1,
        max_frame_compiles=1,
        output=SAME,
        passed=passed,
    )


def _result(status: CheckStatus, *ranks: RankResult) -> TargetResult:
    found = DistributedResult(
        status=status,
        wrapper=Wrapper.DDP,
        order=distributed_targets.DDP_SPLIT.order,
        world_size=2,
        bucket_cap_mb=1.0,
        min_graphs=2,
        ranks=ranks,
    )
    return TargetResult(
        name="d", group="distributed", status=TargetStatus.PASSED, distributed=found
    )


# ----------------------------------------------------------------- fast
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"wrapper": "ddp"}, "wrapper must be a Wrapper"),
        ({"wrapper": Wrapper.DDP, "world_size": 1}, "world_size must be >= 2, got 1"),
        ({"wrapper": Wrapper.FSDP2, "bucket_cap_mb": 1.0}, "bucket_cap_mb is DDP's"),
        ({"wrapper": Wrapper.DDP, "bucket_cap_mb": 0.0}, "bucket_cap_mb must be > 0, got 0.0"),
        ({"wrapper": Wrapper.DDP, "min_graphs": 0}, "min_graphs must be >= 1, got 0"),
    ],
)
def test_a_distributed_spec_refuses_bad_values_naming_them(kwargs, match):
    """Each bad DistributedSpec value raises ValueError with the value and the rule."""
    with pytest.raises(ValueError, match=match):
        DistributedSpec(**kwargs)


def test_a_distributed_target_cannot_have_a_scenario():
    """Ranks replay steady calls only; a scenario is refused when the target is built."""
    with pytest.raises(ValueError, match="cannot have a scenario"):
        Target(
            name="d",
            build=torch.nn.Identity,
            make_inputs=lambda: (torch.ones(1),),
            distributed=distributed_targets.DDP_SPLIT,
            scenario=(ScenarioStep(name="s"),),
        )


def test_a_distributed_target_is_refused_in_process():
    """audit_target_part cannot launch ranks: it says to go through the runner."""
    with pytest.raises(ValueError, match="is distributed: audit it through the runner"):
        audit_target_part(distributed_targets.ddp_mlp(), CheckSettings(backend="eager"))


def test_a_distributed_result_round_trips_and_old_reports_still_load():
    """The codec writes and reads the distributed field; a result without it reads as None."""
    result = _result(CheckStatus.PASSED, _rank(0), _rank(1))
    data = to_jsonable(result)
    assert from_jsonable(TargetResult, data) == result
    del data["distributed"]
    assert from_jsonable(TargetResult, data).distributed is None


def test_a_failed_rank_fails_the_target_under_fail_on_distributed():
    """A FAILED distributed check is a flag that --fail-on distributed (and only it) counts."""
    result = _result(CheckStatus.FAILED, _rank(0), _rank(1, graphs=1, passed=False))
    assert result.flagged == (CheckName.DISTRIBUTED,)
    assert status_of(result) is TargetStatus.FAILED
    assert result.failing((FailOn.DISTRIBUTED,)) == (CheckName.DISTRIBUTED,)
    assert result.failing((FailOn.PARITY,)) == ()
    assert result.distributed is not None
    assert result.distributed.fewest_graphs == 1


LAUNCHER_LOG = """\
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
Failures:
[1]:
  rank      : 0 (local_rank: 0)
  exitcode  : -15 (pid: 7354)  (SIGTERM)
------------------------------------------------------
Root Cause (first observed failure):
[0]:
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 7355)  (SIGKILL)
"""


def test_the_crash_message_names_the_rank_that_died_first():
    """The rank torch's launcher saw fail first is named with its signal; the rest as stopped."""
    launch = Launch(
        results=(), errors=(), missing=(0, 1), exit_code=1, timed_out=False, seconds=1.0
    )
    assert crash_message(launch, LAUNCHER_LOG) == (
        "rank 1 was killed by SIGKILL before writing its result; "
        "torch.distributed.run then stopped rank(s) 0"
    )
    assert crash_message(launch, "no summary") == (
        "rank(s) 0, 1 ended without a result; the launcher exited with code 1"
    )


def test_the_distributed_flag_adds_the_distributed_targets_and_is_not_quick():
    """--distributed adds DDP and FSDP2 targets of both hosts; --quick refuses it."""
    config = parse_config(["--distributed", "--targets", "distributed/*"])
    assert config.distributed
    names = [job.name for job in select_jobs(config)]
    assert names == [
        "distributed/ddp/cnn/training",
        "distributed/ddp/transformer/training",
        "distributed/fsdp2/cnn/training",
        "distributed/fsdp2/transformer/training",
    ]
    assert not parse_config([]).distributed
    with pytest.raises(UsageError, match="--distributed .* not part of the --quick"):
        parse_config(["--quick", "--distributed"])
    with pytest.raises(UsageError, match="names distributed targets: add --distributed"):
        select_jobs(parse_config(["--targets", "distributed/ddp/*"]))


def _sleeper(marker: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])


def test_kill_leftovers_kills_only_processes_carrying_the_marker():
    """A pid whose command line lacks the marker (a reused pid) is left alone."""
    mine, other = _sleeper("audit-marker-1"), _sleeper("someone-else")
    try:
        assert kill_leftovers([mine.pid, other.pid], "audit-marker-1") == (mine.pid,)
        assert mine.wait(timeout=5) == -9
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


GRANDCHILD = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", '''
from foundation.process_tree import die_with_parent
assert die_with_parent()
print("armed", flush=True)
import time; time.sleep(60)
'''], stdout=subprocess.PIPE)
grandchild.stdout.readline()
print(grandchild.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_process_that_dies_with_its_parent_does_not_outlive_it():
    """Killing the parent (as the runner kills a launcher) kills the armed grandchild too."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    parent = subprocess.Popen([sys.executable, "-c", GRANDCHILD], stdout=subprocess.PIPE, env=env)
    assert parent.stdout is not None
    grandchild = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(grandchild)


def _running(pid: int) -> bool:
    from foundation.process_tree import is_running

    return is_running(pid)


# ----------------------------------------------------------------- slow: real ranks
def _processes_mentioning(marker: Path) -> list[str]:
    """Command lines of live processes that name `marker` (the launcher and its ranks do)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if str(marker) in command and state != "Z":
            found.append(command)
    return found


def _run(tmp_path: Path, factory, timeout_s: float = 240.0) -> TargetResult:  # type: ignore[no-untyped-def]
    settings = RunnerSettings(
        checks=CheckSettings(backend="aot_eager"), timeout_s=timeout_s, jobs=1, threads_per_job=1
    )
    job = Job(name=factory.__name__, group="distributed", load=factory)
    [result] = run_jobs([job], settings, tmp_path)
    return result


@pytest.mark.slow  # two ranks importing torch and compiling: about 40 s on 2 loaded cores
@pytest.mark.expensive
def test_a_clean_ddp_target_passes_with_a_graph_per_bucket(tmp_path):
    """DDP with a 1 MiB cap splits the 2 MiB MLP's graph in two on each rank; parity holds."""
    result = _run(tmp_path, distributed_targets.ddp_mlp)
    assert result.status is TargetStatus.PASSED, result.error
    found = result.distributed
    assert found is not None
    assert found.status is CheckStatus.PASSED
    assert [r.rank for r in found.ranks] == [0, 1]
    for rank in found.ranks:
        assert rank.dynamo_graphs == 1
        assert rank.compiled_graphs >= 2
        assert rank.buckets == (rank.compiled_graphs,)
        assert rank.max_frame_compiles == 1
        assert rank.output.passed
        assert rank.worst_grad is not None and rank.worst_grad.passed
        assert rank.grads_compared == 6  # three Linear layers, weight and bias
    assert _processes_mentioning(tmp_path) == []


@pytest.mark.slow
@pytest.mark.expensive
def test_a_rank_that_raises_is_an_error_that_names_it(tmp_path):
    """Rank 1 raising while building stops rank 0 at once: status error, rank named."""
    result = _run(tmp_path, distributed_targets.raising_rank)
    assert result.status is TargetStatus.ERROR
    assert result.error is not None
    assert result.error.type == "RuntimeError"
    assert result.error.message == "rank 1: rank 1 refuses to build"
    assert result.error.check is CheckName.DISTRIBUTED
    assert _processes_mentioning(tmp_path) == []


@pytest.mark.slow
@pytest.mark.expensive
def test_a_rank_that_dies_is_a_crash_that_names_it(tmp_path):
    """Rank 1 killed by SIGKILL: status crashed, naming the rank and the signal."""
    result = _run(tmp_path, distributed_targets.dying_rank)
    assert result.status is TargetStatus.CRASHED
    assert result.error is not None
    assert result.error.message.startswith("rank 1 was killed by SIGKILL")
    assert _processes_mentioning(tmp_path) == []


@pytest.mark.slow
@pytest.mark.expensive
def test_a_hanging_rank_times_out_with_its_stack_and_leaves_nothing(tmp_path):
    """Past the deadline the ranks' stacks are logged and the launcher and ranks are gone."""
    result = _run(tmp_path, distributed_targets.hanging_rank, timeout_s=45.0)
    assert result.status is TargetStatus.TIMEOUT
    assert result.error is not None
    assert "still running after" in result.error.message
    assert "in _hang" in result.error.traceback  # rank 1's stack, dumped before it was stopped
    assert _processes_mentioning(tmp_path) == []


@pytest.mark.slow
@pytest.mark.expensive
def test_ranks_die_with_a_child_the_runner_kills(tmp_path, monkeypatch):
    """When the runner's timeout kills the child first, the launcher and ranks die with it."""
    # No margin: the child would wait for its ranks longer than the runner lets it live.
    monkeypatch.setattr(audits.child, "DISTRIBUTED_STOP_MARGIN_S", -600.0)
    result = _run(tmp_path, distributed_targets.hanging_rank, timeout_s=30.0)
    assert result.status is TargetStatus.TIMEOUT
    deadline = time.monotonic() + 10  # the ranks' parent-death signal is asynchronous
    while _processes_mentioning(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_mentioning(tmp_path) == []
