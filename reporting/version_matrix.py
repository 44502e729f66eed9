"""The torch-version matrix: audit reports of several torch releases, target by target.

`build_matrix` lines up the reports oldest release first (numeric order: 2.5.1 < 2.9.1 <
2.13.0) and keeps, for each target and release, what the matrix shows: fullgraph, graph
breaks, compiles against the budget, eager parity and exception parity. A target is
*clean* in a release when its audit status is passed (no check flagged anything; for a
hazard, every expected flag was raised). Its *first clean* release is the oldest one
from which it is clean in every newer release audited, so a target that regressed and
recovered is dated from its recovery.

reporting.matrix_tables renders it as matrix.md and matrix.csv.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from reporting.schema.audit import BROKEN, CheckStatus, TargetResult, TargetStatus
from reporting.schema.basics import missing_api
from reporting.schema.report import RunReport


class MatrixInputError(ValueError):
    """Reports that cannot be merged: no audit, a repeated release, different settings."""


def torch_release(version: str) -> tuple[int, int, int]:
    """(2, 13, 0) for "2.13.0+cpu"; local tags (+cu124) and pre-release suffixes are dropped."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version.strip())
    if match is None:
        raise MatrixInputError(f"torch version {version!r} is not like 2.13.0")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One target under one torch release."""

    name: str
    group: str
    informational: bool  # report-only (the guard comparison): never counted as unclean
    status: TargetStatus
    hazard: bool = False  # a wrong-on-purpose target: passed means its flags were raised
    fullgraph_ok: bool | None = None  # None: the check did not run
    graph_breaks: int | None = None
    max_frame_compiles: int | None = None
    recompile_budget: int | None = None
    recompiles_ok: bool | None = None
    recompile_limit_hit: bool = False
    parity_ok: bool | None = None
    exception_cases: int = 0
    exception_cases_same: int = 0  # compiled raised eager's type with eager's message
    error: str | None = None  # the exception type, for an errored target
    # APIs the export and cache checks found missing from the release (draft_export,
    # the mega-cache): those parts were reported "not available", not failed.
    missing_apis: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return self.status is TargetStatus.PASSED

    @property
    def recompiles(self) -> int:
        """Compilations of the most-compiled frame beyond its first."""
        return max(0, (self.max_frame_compiles or 0) - 1)


def _passed(result: object) -> bool | None:
    status = getattr(result, "status", None)
    return None if status in (None, CheckStatus.SKIPPED) else status is CheckStatus.PASSED


def _missing_apis(t: TargetResult) -> tuple[str, ...]:
    notes = []
    if t.export is not None:
        notes.append(t.export.draft_note)
    if t.cache is not None:
        notes += [t.cache.skipped_reason, t.cache.mega_cache_note]
    return tuple(sorted({api for note in notes if (api := missing_api(note))}))


def cell_of(t: TargetResult) -> Cell:
    rec, cases = t.recompiles, t.exceptions.cases if t.exceptions is not None else ()
    return Cell(
        name=t.name,
        group=t.group,
        informational=t.informational,
        status=t.status,
        hazard=bool(t.expected_flags),
        fullgraph_ok=_passed(t.fullgraph),
        graph_breaks=t.breaks.break_count if t.breaks is not None else None,
        max_frame_compiles=rec.max_frame_compiles if rec is not None else None,
        recompile_budget=rec.budget if rec is not None else None,
        recompiles_ok=_passed(rec),
        recompile_limit_hit=rec is not None and rec.limit_hit,
        parity_ok=_passed(t.parity),
        exception_cases=len(cases),
        exception_cases_same=sum(c.type_matches and c.message_matches for c in cases),
        error=t.error.type if t.error is not None else None,
        missing_apis=_missing_apis(t),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    """One report's column: the torch release it ran and every target's cell."""

    torch_version: str  # as recorded, e.g. 2.5.1+cu124
    release: tuple[int, int, int]
    commit: str  # short sha, -dirty for a changed tree
    duration_s: float
    cells: tuple[Cell, ...]  # the report's targets, in its order
    audit_missing_apis: tuple[str, ...] = ()  # as the audit recorded them (AuditRun)

    @property
    def name(self) -> str:
        return ".".join(str(n) for n in self.release)

    def cell(self, target: str) -> Cell | None:
        return next((cell for cell in self.cells if cell.name == target), None)

    @property
    def missing_apis(self) -> tuple[str, ...]:
        """Optional APIs the release lacks: the audit's record and the checks' notes."""
        found = {api for cell in self.cells for api in cell.missing_apis}
        return tuple(sorted(found.union(self.audit_missing_apis)))


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionMatrix:
    releases: tuple[Release, ...]  # oldest first
    # One cell per target, for its name, group and informational flag: the newest
    # report's targets in its order, then those only older reports have.
    targets: tuple[Cell, ...]
    backend: str
    device: str
    dtype: str

    def first_clean(self, target: str) -> Release | None:
        """The oldest release from which `target` is clean in every newer one; None if not."""
        first: Release | None = None
        for release in self.releases:
            cell = release.cell(target)
            first = (first or release) if cell is not None and cell.clean else None
        return first

    def all_clean_from(self) -> Release | None:
        """The oldest release from which every target is clean; None when there is none.

        Targets are those of the newest report, informational ones left out: a target the
        audit no longer has does not hold the verdict back.
        """
        audited = [c.name for c in self.releases[-1].cells if not c.informational]
        firsts = [self.first_clean(name) for name in audited]
        if not audited or any(f is None for f in firsts):
            return None
        return max(firsts, key=lambda r: r.release if r else (0, 0, 0))


def build_matrix(reports: Sequence[tuple[str, RunReport]]) -> VersionMatrix:
    """Merge (label, report) pairs; MatrixInputError names the label of a report that cannot be."""
    if not reports:
        raise MatrixInputError("no reports to merge")
    for label, report in reports:
        if report.audit is None:
            raise MatrixInputError(f"{label}: holds no audit (a benchmark-only report)")
    audits = [(label, report, report.audit) for label, report in reports if report.audit]
    settings = {(a.config.backend, a.config.device, a.config.dtype) for _, _, a in audits}
    if len(settings) > 1:
        found = "; ".join(
            f"{label}: {a.config.backend}/{a.config.device}/{a.config.dtype.value}"
            for label, _, a in audits
        )
        raise MatrixInputError(
            f"reports ran with different backend/device/dtype and do not compare ({found})"
        )
    seen: dict[tuple[int, int, int], str] = {}
    releases = []
    for label, report, audit in audits:
        env = report.environment
        release = Release(
            torch_version=env.torch_version,
            release=torch_release(env.torch_version),
            commit=env.short_sha,
            duration_s=audit.duration_s,
            cells=tuple(map(cell_of, audit.targets)),
            audit_missing_apis=audit.missing_apis,
        )
        if release.release in seen:
            raise MatrixInputError(
                f"{label} and {seen[release.release]} both audit torch {release.name}; "
                "give one report per release"
            )
        seen[release.release] = label
        releases.append(release)
    releases.sort(key=lambda r: r.release)
    targets: dict[str, Cell] = {}
    for release in reversed(releases):  # the newest report's order, then older-only targets
        for cell in release.cells:
            targets.setdefault(cell.name, cell)
    backend, device, dtype = settings.pop()
    return VersionMatrix(
        releases=tuple(releases),
        targets=tuple(targets.values()),
        backend=backend,
        device=device,
        dtype=dtype.value,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseSummary:
    """Totals over one release's audited (non-informational) targets."""

    targets: int
    clean: int
    fullgraph_ok: int
    graph_breaks: int
    targets_with_breaks: int
    recompiles: int
    over_budget: int
    parity_ok: int
    exception_cases: int
    exception_cases_same: int
    broken: int  # errored, timed out or crashed
    hazards: int  # wrong-on-purpose targets audited: counted here, not in the totals above
    hazards_detected: int


def summarize(matrix: VersionMatrix, release: Release) -> ReleaseSummary:
    """Totals over the release's own targets; the hazards, whose findings are planted, apart."""
    audited = [t.name for t in matrix.targets if not t.informational and not t.hazard]
    cells = [c for name in audited if (c := release.cell(name)) is not None]
    hazards = [c for t in matrix.targets if t.hazard and (c := release.cell(t.name)) is not None]
    return ReleaseSummary(
        targets=len(cells),
        clean=sum(c.clean for c in cells),
        fullgraph_ok=sum(c.fullgraph_ok is True for c in cells),
        graph_breaks=sum(c.graph_breaks or 0 for c in cells),
        targets_with_breaks=sum(bool(c.graph_breaks) for c in cells),
        recompiles=sum(c.recompiles for c in cells),
        over_budget=sum(c.recompiles_ok is False for c in cells),
        parity_ok=sum(c.parity_ok is True for c in cells),
        exception_cases=sum(c.exception_cases for c in cells),
        exception_cases_same=sum(c.exception_cases_same for c in cells),
        broken=sum(c.status in BROKEN for c in cells),
        hazards=len(hazards),
        hazards_detected=sum(c.clean for c in hazards),
    )
