"""Subprocess isolation: a crash, segfault or hang in one target is recorded; the run goes on."""

import os
import signal
import time

import pytest
import torch
from support.torch_release import FORK_ON_THIS_BUILD

from audits.checks.common import CheckSettings
from audits.runner import Job, RunnerSettings, error_in_child, run_jobs
from audits.targets import Target
from reporting.schema.audit import TargetStatus

# The test process has run torch ops, so its forked children must stay on one
# thread (a forked OpenMP pool hangs); the CLI's parent never runs one.
# The timeout leaves the clean job room on a loaded 2-core machine.
SETTINGS = RunnerSettings(
    checks=CheckSettings(backend="eager"), timeout_s=8.0, jobs=2, threads_per_job=1
)


def _clean() -> Target:
    return Target(
        name="clean",
        build=lambda: torch.nn.Linear(3, 3),
        make_inputs=lambda: (torch.randn(2, 3),),
    )


def _abort() -> Target:
    os.abort()


def _segfault() -> Target:
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")


def _hang() -> Target:
    time.sleep(60)
    raise AssertionError("unreachable")


def _raise() -> Target:
    raise ImportError("factory cannot import its model")


def _job(name: str, load) -> Job:
    return Job(name=name, group="test", load=load)


@pytest.mark.slow  # real subprocesses and signals: seconds each
def test_crash_timeout_and_error_are_recorded_and_the_run_goes_on(tmp_path):
    """abort -> crashed, SIGSEGV -> crashed, sleep past --timeout -> timeout, others still run."""
    jobs = [
        _job("abort", _abort),
        _job("hang", _hang),
        _job("segfault", _segfault),
        _job("factory error", _raise),
        _job("clean", _clean),
    ]
    start = time.perf_counter()
    results = run_jobs(jobs, SETTINGS, tmp_path)
    assert time.perf_counter() - start < 30
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == [j.name for j in jobs]  # job order, not finish order
    assert by_name["abort"].status is TargetStatus.CRASHED
    assert "SIGABRT" in by_name["abort"].error.message
    assert "_abort" in by_name["abort"].error.traceback  # the child's stack, from its log
    assert by_name["segfault"].status is TargetStatus.CRASHED
    assert "SIGSEGV" in by_name["segfault"].error.message
    assert by_name["hang"].status is TargetStatus.TIMEOUT
    assert "8 s" in by_name["hang"].error.message
    assert by_name["factory error"].status is TargetStatus.ERROR
    assert "cannot import its model" in by_name["factory error"].error.message
    assert by_name["clean"].status is TargetStatus.PASSED


@FORK_ON_THIS_BUILD  # closures reach the child only by fork
def test_error_in_child_reports_the_exception_and_leaves_the_parent_alone():
    """error_in_child returns the child's exception message, None on success."""
    marker = []

    def fails():
        marker.append(1)
        raise ValueError("no such factory")

    assert error_in_child(fails, start_method="fork") == "no such factory"
    assert error_in_child(lambda: None, start_method="fork") is None
    assert marker == []  # it ran in the child only
