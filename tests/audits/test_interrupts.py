"""SIGINT and SIGTERM during python -m audits.run: partial report, exit 130/143, no orphans;
then --resume finishes the run in its own folder. Real processes, real signals."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from support.torch_release import FORK_ON_THIS_BUILD

from reporting.schema.audit import TargetStatus
from reporting.schema.report import load_report

REPO = Path(__file__).resolve().parents[2]
FINISHED = "isolation/ste_forward"  # cheap, and with --jobs 1 it runs before the user target
HANGING = "interrupt_user_module:hang"

# With HANG set, the factory starts a grandchild and then never returns: the target is
# still running when the signal comes, and its whole process tree must go with it.
USER_MODULE = """
import os
import subprocess
import time

import torch


def hang():
    if os.environ.get("HANG"):
        subprocess.Popen(["sleep", "600"])
        time.sleep(600)
    return torch.nn.Linear(2, 2), (torch.randn(1, 2),)
"""

# Generous limits that only keep a broken run from hanging the suite; never speed checks.
STARTUP_LIMIT_S = 300.0
EXIT_LIMIT_S = 120.0


def _stat(pid: int) -> tuple[str, int, int, int, str] | None:
    """(state, ppid, pgid, session, start time) of a live process, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3]), fields[19]


def _alive() -> dict[int, tuple[str, int, int, int, str]]:
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) and stat[0] != "Z":
            procs[int(entry)] = stat  # a zombie has exited; only its parent's wait is missing
    return procs


def _descendants(root: int) -> dict[int, str]:
    """pid -> start time of every live process below `root`."""
    procs = _alive()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (_, ppid, _, _, started) in procs.items():
            if ppid == parent and pid not in found:
                found[pid] = started
                frontier.append(pid)
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _leftovers(session: int, tree: dict[int, str]) -> list[str]:
    """Processes of the run still alive: one seen in its tree, or any in its session."""
    return [
        f"{pid}: {_command(pid)}"
        for pid, (_, _, _, sid, started) in _alive().items()
        if tree.get(pid) == started or sid == session
    ]


def _start(tmp_path: Path, out: Path, *argv: str) -> tuple[subprocess.Popen, Path]:
    (tmp_path / "interrupt_user_module.py").write_text(textwrap.dedent(USER_MODULE))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
        "HANG": "1",
    }
    log = tmp_path / f"{out.name}.stderr"
    process = subprocess.Popen(
        [sys.executable, "-m", "audits.run", "--quick", "-v", "--out", str(out), *argv],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        start_new_session=True,  # its own process group, as a shell job would be
    )
    return process, log


def _wait_until_one_finished_and_the_next_runs(process: subprocess.Popen, log: Path) -> dict:
    """Poll until FINISHED is reported done and the hanging target's grandchild exists."""
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"run ended early: {log.read_text()}"
        tree = _descendants(process.pid)
        sleeping = any(_command(pid).startswith("sleep 600") for pid in tree)
        if f"passed  {FINISHED}" in log.read_text() and sleeping:
            return tree
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"no target finished within {STARTUP_LIMIT_S:g} s: {log.read_text()}")


def _assert_no_leftovers(session: int, tree: dict[int, str]) -> None:
    # A forkserver notices its parent's exit on its own; allow it a moment to go.
    deadline = time.monotonic() + EXIT_LIMIT_S
    while (left := _leftovers(session, tree)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"orphaned processes of the run: {left}"


def _interrupt(tmp_path: Path, signum: int, *argv: str) -> tuple[subprocess.Popen, Path, str]:
    """Start a run, signal it once a target finished; return it, its folder and stderr."""
    out = tmp_path / "run"
    process, log = _start(tmp_path, out, "--jobs", "1", *argv)
    tree = _wait_until_one_finished_and_the_next_runs(process, log)
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # Ctrl-C: the terminal signals the whole job
    else:
        process.send_signal(signum)  # kill PID: the parent alone
    try:
        process.communicate(timeout=EXIT_LIMIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"the run did not exit after {signal.Signals(signum).name}")
    _assert_no_leftovers(process.pid, tree)
    return process, out, log.read_text()


def _assert_partial(out: Path, stderr: str) -> None:
    run = load_report(out).audit
    assert [(t.name, t.status) for t in run.targets] == [
        (FINISHED, TargetStatus.PASSED),
        (HANGING, TargetStatus.NOT_RUN),
    ]
    for name in ("summary.txt", "report.json", "report.md", "results.csv"):
        assert (out / name).is_file(), name
    assert "not run" in (out / "report.md").read_text()
    assert "INCOMPLETE (1 not run)" in (out / "summary.txt").read_text()
    assert f"--resume {out}" in stderr and "1 of 2 targets finished" in stderr


@pytest.mark.slow  # real subprocesses and signals: seconds each
def test_ctrl_c_keeps_the_finished_target_and_resume_runs_only_the_rest(tmp_path):
    """SIGINT: exit 130, partial report, no process left; --resume audits only the not-run."""
    process, out, stderr = _interrupt(
        tmp_path, signal.SIGINT, "--targets", FINISHED, "--target", HANGING
    )
    assert process.returncode == 130, stderr
    assert "stopped by SIGINT" in stderr
    _assert_partial(out, stderr)
    finished_before = load_report(out).audit.targets[0]

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    env.pop("HANG", None)
    done = subprocess.run(
        [sys.executable, "-m", "audits.run", "--resume", str(out), "-v"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=STARTUP_LIMIT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run = load_report(out).audit
    assert [t.status for t in run.targets] == [TargetStatus.PASSED, TargetStatus.PASSED]
    assert run.targets[0] == finished_before  # kept as it was, not audited again
    assert f"passed  {HANGING}" in done.stderr and FINISHED not in done.stderr
    assert run.config.backend == "aot_eager" and run.config.jobs == 1  # as recorded
    assert "INCOMPLETE" not in (out / "summary.txt").read_text()
    assert (out / "summary.txt").read_text() == done.stdout
    assert "not run" not in (out / "report.md").read_text()


@pytest.mark.slow  # real subprocesses and signals: seconds each
@pytest.mark.parametrize(
    "start_method", [pytest.param("fork", marks=FORK_ON_THIS_BUILD), "forkserver"]
)
def test_sigterm_exits_143_with_a_partial_report_and_no_orphans(tmp_path, start_method):
    """SIGTERM to the parent alone: exit 143, partial report, every child and grandchild gone."""
    process, out, stderr = _interrupt(
        tmp_path,
        signal.SIGTERM,
        "--targets",
        FINISHED,
        "--target",
        HANGING,
        "--start-method",
        start_method,
    )
    assert process.returncode == 143, stderr
    assert "stopped by SIGTERM" in stderr
    _assert_partial(out, stderr)
