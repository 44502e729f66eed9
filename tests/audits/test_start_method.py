"""Fork where CUDA cannot be touched, a forkserver where it can; both isolate each target."""

import pytest
from support import runner_targets

from audits.checks.common import CheckSettings
from audits.runner import Job, RunnerSettings, error_in_child, run_jobs
from foundation import processes
from foundation.processes import choose_start_method
from reporting.schema.audit import TargetStatus


def test_auto_forks_only_on_a_cpu_build_of_torch():
    """A CUDA build gets a forkserver, since its parent may have poisoned fork."""
    assert choose_start_method("auto", gpu_build=False) == "fork"
    assert choose_start_method("auto", gpu_build=True) == "forkserver"
    assert choose_start_method("spawn", gpu_build=True) == "spawn"


def test_fork_is_refused_on_a_cuda_build_and_unknown_methods_are_named():
    """A forked child could meet "Cannot re-initialize CUDA in forked subprocess"."""
    with pytest.raises(ValueError, match="'fork': this torch is a CUDA build"):
        choose_start_method("fork", gpu_build=True)
    with pytest.raises(ValueError, match="'vfork': valid methods are auto, fork, forkserver"):
        choose_start_method("vfork", gpu_build=False)


@pytest.mark.parametrize("gpu_build, method", [(False, "fork"), (True, "forkserver")])
def test_the_runner_api_starts_children_as_auto_would(monkeypatch, gpu_build, method):
    """RunnerSettings built without a start method (a library caller) never forks on a
    CUDA build."""
    monkeypatch.setattr(processes, "torch_has_gpu_support", lambda: gpu_build)
    settings = RunnerSettings(checks=CheckSettings(backend="eager"), timeout_s=1.0)
    assert settings.start_method == method


def _settings(method: str, timeout_s: float = 120.0) -> RunnerSettings:
    return RunnerSettings(
        checks=CheckSettings(backend="eager"),
        timeout_s=timeout_s,
        jobs=2,
        threads_per_job=1,
        start_method=method,
    )


def _job(name, load) -> Job:
    return Job(name=name, group="test", load=load)


@pytest.fixture
def touched_parent():
    runner_targets.PARENT_STATE["cuda_touched"] = True
    yield
    runner_targets.PARENT_STATE["cuda_touched"] = False


@pytest.mark.slow
@pytest.mark.usefixtures("touched_parent")
def test_forkserver_children_do_not_inherit_the_parents_state(tmp_path):
    """What the parent did after the server started never reaches a forkserver child."""
    jobs = [_job("untouched", runner_targets.needs_untouched_parent)]
    (tmp_path / "fork").mkdir()
    (tmp_path / "forkserver").mkdir()
    (forked,) = run_jobs(jobs, _settings("fork"), tmp_path / "fork")
    assert forked.status is TargetStatus.ERROR
    assert "Cannot re-initialize CUDA" in forked.error.message
    (served,) = run_jobs(jobs, _settings("forkserver"), tmp_path / "forkserver")
    assert served.status is TargetStatus.PASSED, served.error


@pytest.mark.slow  # real subprocesses and signals: seconds each
def test_forkserver_children_crash_and_time_out_alone(tmp_path):
    """Under a forkserver too: SIGSEGV -> crashed, a hang -> timeout, the clean target passes."""
    jobs = [
        _job("segfault", runner_targets.segfault),
        _job("hang", runner_targets.hang),
        _job("clean", runner_targets.clean),
    ]
    results = run_jobs(jobs, _settings("forkserver", timeout_s=15.0), tmp_path)
    by_name = {r.name: r for r in results}
    assert by_name["segfault"].status is TargetStatus.CRASHED
    assert "SIGSEGV" in by_name["segfault"].error.message
    assert by_name["hang"].status is TargetStatus.TIMEOUT
    assert by_name["clean"].status is TargetStatus.PASSED


@pytest.mark.slow  # starts a forkserver, which imports torch afresh
def test_error_in_child_works_from_a_forkserver():
    """A user's factory is resolved in a child whatever the start method."""
    from functools import partial

    from audits.user_targets import resolve_factory

    assert "cannot import" in error_in_child(
        partial(resolve_factory, "no_such_pkg.models:make"), start_method="forkserver"
    )
    clean = partial(resolve_factory, "support.runner_targets:clean")
    assert error_in_child(clean, start_method="forkserver") is None
