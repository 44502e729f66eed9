"""`--resume DIR`: finish an interrupted run in its own folder.

An interrupted run leaves a complete-looking run folder whose report.json marks the
targets it did not finish as "not run". Resuming reads that report, audits only those
targets with the settings the run recorded, and rewrites the folder's files with the
merged results: the one case where a run's files are replaced. Anything that would make
the merged report mix two different audits (a folder that is not a run, another schema,
a finished run, another torch, flags that contradict the recorded ones) is refused
before a target runs, with nothing changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from foundation.cli import UsageError
from reporting.schema.audit import AuditConfig, AuditRun, TargetResult, TargetStatus
from reporting.schema.report import REPORT_JSON, ReportFormatError, RunReport, load_report

# The recorded setting each command-line flag sets (argparse dest -> AuditConfig field).
# Flags not named here (--verbose, --baseline, --update-baseline, --threshold) only act
# after the targets ran, so a resumed run may use its own.
SETTING_OF_FLAG = {
    "targets": "target_globs",
    "target": "user_targets",
    "backend": "backend",
    "device": "device",
    "dtype": "dtype",
    "quick": "quick",
    "no_bench": "bench",
    "hazards": "hazards",
    "shapes": "shapes",
    "export": "export",
    "cache": "cache",
    "cudagraphs": "cudagraphs",
    "distributed": "distributed",
    "timeout": "timeout_s",
    "jobs": "jobs",
    "start_method": "start_method",
    "fail_on": "fail_on",
}
# Settings whose "auto" the recorded run already resolved; giving auto again is no conflict.
_RESOLVED_AUTO = frozenset({"device", "start_method"})
# Recorded settings no flag sets, restored with the others.
_RECORDED_ONLY = ("threads_per_job",)


def check_no_conflict(
    directory: Path, recorded: AuditConfig, given: Mapping[str, Any], out: str | None
) -> None:
    """Refuse flags given with --resume that contradict what the run recorded.

    `given` maps each recorded setting that a flag on the command line set to the value
    it resolved to. Repeating a recorded value is accepted.
    """
    if out is not None and Path(out).resolve() != directory.resolve():
        raise UsageError(f"--resume {directory} writes into that folder; drop --out {out}")
    for name, wanted in given.items():
        have = getattr(recorded, name)
        if wanted == have or (name in _RESOLVED_AUTO and wanted == "auto"):
            continue
        flag = next(f for f, s in SETTING_OF_FLAG.items() if s == name)
        flag = "--" + flag.replace("_", "-")
        raise UsageError(
            f"--resume {directory}: {flag} ({_show(wanted)}) conflicts with the run's recorded "
            f"{name} {_show(have)}; drop {flag}: a resumed run keeps its recorded settings"
        )


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(getattr(v, "value", str(v)) for v in value) + ")"
    return repr(getattr(value, "value", value))


def load_interrupted(directory: Path) -> RunReport:
    """The partial run recorded in `directory`; UsageError naming the folder otherwise."""
    if not directory.is_dir():
        raise UsageError(f"--resume {directory}: not a directory")
    if not (directory / REPORT_JSON).is_file():
        raise UsageError(f"--resume {directory}: not an audit run folder (no {REPORT_JSON})")
    try:
        report = load_report(directory)
    except ReportFormatError as exc:
        raise UsageError(f"--resume {exc}") from None
    if report.audit is None:
        raise UsageError(f"--resume {directory}: holds a benchmark run, not an audit")
    if not not_run_positions(report.audit):
        raise UsageError(
            f"--resume {directory}: the run is complete ({len(report.audit.targets)} targets, "
            "none marked not run); nothing to resume"
        )
    return report


def not_run_positions(run: AuditRun) -> tuple[int, ...]:
    return tuple(i for i, t in enumerate(run.targets) if t.status is TargetStatus.NOT_RUN)


def check_same_torch(directory: Path, report: RunReport, torch_version: str) -> None:
    recorded = report.environment.torch_version
    if recorded != torch_version:
        raise UsageError(
            f"--resume {directory}: the run used torch {recorded} and this is torch "
            f"{torch_version}; resume it with the same torch, or start a new run"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumePlan:
    """Which of the selected jobs run again: those the interrupted run did not finish."""

    recorded: AuditRun
    positions: tuple[int, ...]  # indices into recorded.targets (and the selected jobs)


def plan_resume(directory: Path, recorded: AuditRun, job_names: Sequence[str]) -> ResumePlan:
    """Match the recorded targets with the jobs selected anew; refuse if they differ."""
    names = [t.name for t in recorded.targets]
    if names != list(job_names):
        raise UsageError(
            f"--resume {directory}: the run recorded {len(names)} targets and its settings "
            f"now select {len(job_names)} different ones (was the code changed?); "
            "start a new run"
        )
    return ResumePlan(recorded=recorded, positions=not_run_positions(recorded))


def merged_run(plan: ResumePlan, rerun: Sequence[TargetResult], duration_s: float) -> AuditRun:
    """The recorded run with each not-run target replaced by its new result."""
    targets = list(plan.recorded.targets)
    for position, result in zip(plan.positions, rerun, strict=True):
        targets[position] = result
    return replace(
        plan.recorded,
        targets=tuple(targets),
        duration_s=plan.recorded.duration_s + duration_s,
    )


def resumed_config(config: AuditConfig, flags_given: set[str]) -> AuditConfig:
    """The interrupted run's recorded settings, plus the flags that act after the targets ran.

    `flags_given`: the argparse dests of the flags on the command line itself.
    """
    assert config.resume is not None
    recorded = load_interrupted(Path(config.resume)).audit.config  # type: ignore[union-attr]
    given = {
        SETTING_OF_FLAG[d]: getattr(config, SETTING_OF_FLAG[d])
        for d in flags_given
        if d in SETTING_OF_FLAG
    }
    check_no_conflict(Path(config.resume), recorded, given, config.out)
    restored = (*SETTING_OF_FLAG.values(), *_RECORDED_ONLY)
    return replace(
        config, **{name: getattr(recorded, name) for name in restored}, out=config.resume
    )


def resume_flags(config: AuditConfig) -> tuple[str, ...]:
    """The flags a resumed run should repeat: those that act after the targets ran."""
    flags: list[str] = []
    if config.verbose:
        flags.append("-v")
    if config.baseline is not None:
        flags += ["--baseline", config.baseline]
    if config.update_baseline:
        flags.append("--update-baseline")
    if config.baseline is not None and config.threshold != 0.10:
        flags += ["--threshold", f"{config.threshold:g}"]
    return tuple(flags)
