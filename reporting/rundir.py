"""Where a run's report goes: reports/<UTC date-time>-<short sha>[-dirty]/, and reports/latest.

A run directory is claimed with mkdir, which fails if the name exists, so two runs can
never write into one directory and an old run is never overwritten. `latest` is a
relative symlink replaced atomically; where the file system refuses symlinks it is a
small text file holding the directory name instead.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from foundation.environment import EnvironmentRecord
from foundation.files import atomic_write_text
from reporting.schema.report import LATEST

REPORTS_ROOT = Path("reports")  # relative to the working directory: run from the repo root
_MAX_SAME_SECOND = 100  # runs of one commit started in one second get -2, -3, ...


class RunDirExistsError(FileExistsError):
    """The requested run directory already holds files."""


def run_dir_name(environment: EnvironmentRecord) -> str:
    """e.g. 20250301T141503Z-1a2b3c4-dirty: sorts by time, names the commit."""
    try:
        started = dt.datetime.strptime(environment.time_utc, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise ValueError(
            f"environment time {environment.time_utc!r} is not UTC ISO 8601, "
            "like 2025-03-01T14:15:03Z"
        ) from None
    return f"{started:%Y%m%dT%H%M%SZ}-{environment.short_sha}"


def claim_run_dir(
    environment: EnvironmentRecord, out: Path | None = None, *, root: Path = REPORTS_ROOT
) -> Path:
    """Create and return the run's directory; refuse an `out` that already holds files."""
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if any(out.iterdir()):
            raise RunDirExistsError(
                f"{out} already holds files; a run directory is never overwritten"
            )
        return out
    root.mkdir(parents=True, exist_ok=True)
    name = run_dir_name(environment)
    for attempt in range(1, _MAX_SAME_SECOND + 1):
        candidate = root / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RunDirExistsError(f"{root / name}: {_MAX_SAME_SECOND} runs already claimed this name")


def update_latest(run_dir: Path, *, root: Path = REPORTS_ROOT) -> Path | None:
    """Point root/latest at `run_dir` when it lies directly in `root`; return the pointer."""
    if run_dir.resolve().parent != root.resolve():
        return None  # an --out elsewhere is not one of this folder's runs
    latest = root / LATEST
    if latest.is_dir() and not latest.is_symlink():
        raise FileExistsError(
            f"{latest} is a real directory; remove it to let runs point it at the newest"
        )
    staged = root / f".{LATEST}.{os.getpid()}.tmp"
    staged.unlink(missing_ok=True)
    try:
        os.symlink(run_dir.name, staged, target_is_directory=True)
    except (OSError, NotImplementedError):
        atomic_write_text(latest, run_dir.name + "\n")
        return latest
    try:
        os.replace(staged, latest)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return latest
