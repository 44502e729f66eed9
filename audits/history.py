"""python -m audits.history [REPORT ...] [--git FILE]: each target commit by commit.

REPORT is a run directory or a report.json (reports/latest works too); `--git FILE`
reads every committed version of FILE (a baseline, say) from the history of the git
repository holding it, each labelled with the commit that committed it. Reports are read
oldest first: by the time each run started, or in git's order when only `--git` is given.

Printed, and with `--out DIR` written to DIR/history.md, history.csv and (with
matplotlib) history.png: per target, status, graph breaks, compiles against the budget,
the first call's time and the speedups, and the commit where each regression first
appeared and the one that fixed it (reporting.history says how). Exit 0 when the history
is shown; 2 for bad usage or a report that cannot be read, with one line saying which
and why. A version in git that cannot be read is left out with a note instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.cli import UsageError, UsageParser
from reporting.history import History, HistoryEntry, keep_targets
from reporting.regressions import DEFAULT_THRESHOLD
from reporting.schema.report import ReportFormatError, load_report, report_from_json

EXIT_OK, EXIT_USAGE = 0, 2
_FIELD = "\x1f"  # separates git log's fields: a commit subject never holds it
_SHOWN = 8  # names listed in an error before "and N more"

_EXAMPLES = """\
examples:
  python -m audits.history --git reports/baseline/cpu-torch2.13.0.json
      every committed version of the CPU baseline, oldest first
  python -m audits.history reports/2026*/ --out reports/history
      every local run, written to reports/history/history.{md,csv,png}
  python -m audits.history --git reports/baseline/cpu-torch2.13.0.json reports/latest \\
      --target 'host/*'
      the baseline's history, then this checkout's latest run, host targets only
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryConfig:
    reports: tuple[Path, ...] = ()  # run directories or report.json files, in any order
    git: Path | None = None  # a file whose every committed version is a report
    out: Path | None = None  # where history.md/.csv/.png go; None: print only
    target_globs: tuple[str, ...] = ()  # rows to show; empty shows every target
    threshold: float = DEFAULT_THRESHOLD  # relative speedup drop that counts

    def __post_init__(self) -> None:
        if not self.reports and self.git is None:
            raise UsageError(
                "nothing to read: give run directories or report.json files, or --git FILE"
            )
        if self.out is not None and self.out.exists() and not self.out.is_dir():
            raise UsageError(f"--out {self.out}: exists and is not a directory")
        if not 0.0 < self.threshold < 1.0:
            raise UsageError(
                f"--threshold {self.threshold!r}: must be a fraction in (0, 1), e.g. 0.10"
            )


# Each argument's argparse settings, in --help's order (dests are HistoryConfig's fields).
_ARGUMENTS: dict[str, dict[str, Any]] = {
    "reports": dict(nargs="*", type=Path, metavar="REPORT"),
    "--git": dict(type=Path, metavar="FILE"),
    "--out": dict(type=Path, metavar="DIR"),
    "--target": dict(dest="target_globs", action="append", default=[], metavar="GLOB"),
    "--threshold": dict(type=float, default=DEFAULT_THRESHOLD),
}
_HELP = {
    "reports": "run directory or report.json of audits.run/benchmarks.run, in any order: they "
    "are sorted by the time each run started",
    "--git": "read every committed version of FILE (e.g. reports/baseline/cpu-torch2.13.0.json) "
    "from the git history of the repository holding it, oldest first, each labelled with its "
    "commit; renames are not followed",
    "--out": "also write DIR/history.md, history.csv and, with matplotlib, history.png "
    "(replaced if present); default: print only",
    "--target": "show only targets (or benchmark workloads) matching GLOB, e.g. 'host/*'; "
    "repeatable; regressions are still found over every target",
    "--threshold": "relative speedup drop that counts as a regression, if also outside both "
    "95%% CIs (default: 0.10)",
}


def build_parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="python -m audits.history",
        description="Graph breaks, compiles (most compiles of one frame / budget), first-call "
        "compile time and speedups of every audit target, commit by commit, and the commit "
        "where each regression first appeared (the rules of audits.compare, between each "
        "report and the one before it) and where it was fixed. Exit 0 when shown, 2 for bad "
        "usage or an unreadable report.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name, settings in _ARGUMENTS.items():
        p.add_argument(name, help=_HELP[name], **settings)
    return p


def parse_config(argv: Sequence[str] | None) -> HistoryConfig:
    args = vars(build_parser().parse_args(argv))
    return HistoryConfig(
        **{**args, "reports": tuple(args["reports"]), "target_globs": tuple(args["target_globs"])}
    )


def _git(cwd: Path, *args: str) -> str:
    """git's stdout; a UsageError with git's own first line of complaint when it fails."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise UsageError(f"--git: cannot run git ({error})") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise UsageError(f"git {' '.join(args[:2])} in {cwd}: {first}")
    return done.stdout


def _nearest_directory(path: Path) -> Path:
    """The deepest existing folder above `path`: git runs there, the file may be gone now."""
    folder = path.parent
    while not folder.is_dir():
        folder = folder.parent
    return folder


def _committed_neighbours(folder: Path, relative: Path) -> list[str]:
    """Files committed at HEAD in the folder `relative` names, for an error message."""
    listed = _git(folder, "ls-files", "--", relative.parent.as_posix() or ".")
    return [name for name in listed.splitlines() if "/" not in name.removeprefix("./")]


def git_versions(path: Path) -> tuple[list[HistoryEntry], list[str]]:
    """Every committed version of `path`, oldest first, and a note for each one left out."""
    absolute = Path.cwd() / path
    folder = _nearest_directory(absolute)
    try:
        _git(folder, "rev-parse", "--show-toplevel")
    except UsageError as error:
        raise UsageError(f"--git {path}: not inside a git repository ({error})") from None
    relative = absolute.relative_to(folder)
    spec = relative.as_posix()
    log = _git(folder, "log", "--reverse", f"--format=%H{_FIELD}%ct{_FIELD}%s", "--", spec)
    commits = [line.split(_FIELD, 2) for line in log.splitlines() if line]
    if not commits:
        neighbours = _committed_neighbours(folder, relative)
        valid = (
            f"files committed in {path.parent}: {_names(neighbours)}"
            if neighbours
            else f"nothing is committed in {path.parent}"
        )
        raise UsageError(f"--git {path}: no commit holds this file; {valid}")
    entries: list[HistoryEntry] = []
    skipped: list[str] = []
    for sha, epoch, subject in commits:
        short = sha[:7]
        try:
            text = _git(folder, "show", f"{sha}:./{spec}")
        except UsageError:
            skipped.append(f"{short} ({subject}): left out, the file is not in that commit")
            continue
        try:
            report = report_from_json(text)
        except ReportFormatError as error:
            skipped.append(f"{short} ({subject}): left out, {error}")
            continue
        moment = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
        entries.append(
            HistoryEntry(
                commit=short,
                time_utc=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                source=f"{short}:{spec}",
                subject=subject,
                report=report,
            )
        )
    if not entries:
        raise UsageError(
            f"--git {path}: none of its {len(commits)} committed versions is a readable "
            f"report ({skipped[-1]})"
        )
    return entries, skipped


def file_entries(paths: Sequence[Path]) -> list[HistoryEntry]:
    entries = []
    for path in paths:
        try:
            report = load_report(path)
        except ReportFormatError as error:
            raise UsageError(str(error)) from None
        env = report.environment
        entries.append(
            HistoryEntry(
                commit=env.short_sha, time_utc=env.time_utc, source=str(path), report=report
            )
        )
    return entries


def select_targets(history: History, globs: Sequence[str]) -> History:
    """The rows matching any glob; a UsageError naming the valid ones when none does."""
    if not globs:
        return history
    kept = keep_targets(history, globs)
    if not kept.targets:
        names = [t.name for t in history.targets]
        raise UsageError(
            f"--target {' '.join(globs)}: matches no target; the reports have {_names(names)}"
        )
    return kept


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f", and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def main(config: HistoryConfig) -> int:
    from foundation.files import atomic_write_text
    from reporting import optional
    from reporting.history import build_history
    from reporting.history_tables import (
        HISTORY_CSV,
        HISTORY_MD,
        HISTORY_PNG,
        history_csv,
        history_markdown,
        history_text,
    )

    entries = file_entries(config.reports)
    from_git, notes = git_versions(config.git) if config.git is not None else ([], [])
    # git's order alone; with runs, one time line of the runs' start and the commits' times
    entries = sorted([*from_git, *entries], key=lambda e: e.time_utc) if entries else from_git
    history = select_targets(
        build_history(entries, threshold=config.threshold), config.target_globs
    )
    print(history_text(history, notes), end="")
    if config.out is None:
        return EXIT_OK
    plotted = optional.plots_available()
    if plotted:
        from reporting.history_plot import write_history_png

        write_history_png(history, config.out / HISTORY_PNG)
    else:
        (config.out / HISTORY_PNG).unlink(missing_ok=True)  # an older run's trend would mislead
        print(optional.PLOTS_MISSING)
    atomic_write_text(config.out / HISTORY_MD, history_markdown(history, notes, plotted=plotted))
    atomic_write_text(config.out / HISTORY_CSV, history_csv(history))
    print(
        f"written: {config.out / HISTORY_MD}, {HISTORY_CSV}"
        + (f", {HISTORY_PNG}" if plotted else "")
    )
    return EXIT_OK


def cli(argv: Sequence[str] | None = None) -> int:
    try:
        return main(parse_config(argv))
    except UsageError as exc:
        print(f"audits.history: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(cli())
