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
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from foundation.cli import UsageError
from reporting.schema.audit import AuditConfig, AuditRun, TargetResult, TargetStatus
from reporting.schema.report import REPORT_JSON, ReportFormatError, RunReport, load_report

# Settings that act only after the targets ran, so that a resumed run may use its own;
# every other AuditConfig field is restored as the interrupted run recorded it.
AFTER_THE_TARGETS = frozenset(
    {"verbose", "baseline", "update_baseline", "threshold", "out", "resume"}
)
# Settings whose "auto" the recorded run already resolved; giving auto again is no conflict.
_RESOLVED_AUTO = frozenset({"device", "start_method"})


def resumed_config(config: AuditConfig, flags_given: Mapping[str, str]) -> AuditConfig:
    """The interrupted run's recorded settings, plus the flags that act after the targets ran.

    `flags_given` maps each AuditConfig field a flag on the command line set to that flag.
    Repeating a recorded value is accepted; a flag that contradicts one is refused.
    """
    assert config.resume is not None
    directory = Path(config.resume)
    recorded = load_interrupted(directory).audit.config  # type: ignore[union-attr]
    if config.out is not None and Path(config.out).resolve() != directory.resolve():
        raise UsageError(f"--resume {directory} writes into that folder; drop --out {config.out}")
    for name, flag in flags_given.items():
        wanted, have = getattr(config, name), getattr(recorded, name)
        if name in AFTER_THE_TARGETS or wanted == have:
            continue
        if name in _RESOLVED_AUTO and wanted == "auto":
            continue
        raise UsageError(
            f"--resume {directory}: {flag} ({_show(wanted)}) conflicts with the run's recorded "
            f"{name} {_show(have)}; drop {flag}: a resumed run keeps its recorded settings"
        )
    restored = {
        f.name: getattr(recorded, f.name)
        for f in fields(AuditConfig)
        if f.name not in AFTER_THE_TARGETS
    }
    return replace(config, **restored, out=config.resume)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(getattr(v, "value", str(v)) for v in value) + ")"
    return repr(getattr(value, "value", value))


def load_interrupted(directory: Path, torch_version: str | None = None) -> RunReport:
    """The partial run recorded in `directory` (under `torch_version`, when given);
    UsageError naming the folder otherwise."""
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
    recorded = report.environment.torch_version
    if torch_version is not None and recorded != torch_version:
        raise UsageError(
            f"--resume {directory}: the run used torch {recorded} and this is torch "
            f"{torch_version}; resume it with the same torch, or start a new run"
        )
    return report


def not_run_positions(run: AuditRun) -> tuple[int, ...]:
    return tuple(i for i, t in enumerate(run.targets) if t.status is TargetStatus.NOT_RUN)


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
        plan.recorded, targets=tuple(targets), duration_s=plan.recorded.duration_s + duration_s
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
