"""The torch-version matrix: audit reports of several torch releases, target by target.

`build_matrix` lines up the reports oldest release first (numeric order: 2.5.1 < 2.9.1 <
2.13.0) and keeps, for each target and release, what the matrix shows: fullgraph, graph
breaks, compiles against the budget, eager parity and exception parity. A target is
*clean* in a release when its audit status is passed (no check flagged anything; for a
hazard, every expected flag was raised). Its *first clean* release is the oldest one
from which it is clean in every newer release audited, so a target that regressed and
recovered is dated from its recovery.

`matrix_markdown` and `matrix_csv` render it; neither compiles nor reads files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from audits.report.cells import seconds, table, text
from audits.report.document import RunReport
from audits.results import CheckStatus, TargetResult, TargetStatus

MATRIX_MD = "matrix.md"
MATRIX_CSV = "matrix.csv"
NOT_AUDITED = "not audited"
_BROKEN = (TargetStatus.ERROR, TargetStatus.TIMEOUT, TargetStatus.CRASHED)


class MatrixInputError(ValueError):
    """Reports that cannot be merged: no audit, a repeated release, different settings."""


def torch_release(version: str) -> tuple[int, int, int]:
    """(2, 13, 0) for "2.13.0+cpu"; local tags (+cu124) and pre-release suffixes are dropped."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version.strip())
    if match is None:
        raise MatrixInputError(f"torch version {version!r} is not like 2.13.0")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def release_name(release: tuple[int, int, int]) -> str:
    return ".".join(str(n) for n in release)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One target under one torch release."""

    status: TargetStatus
    hazard: bool = False  # a wrong-on-purpose target: passed means its flags were raised
    fullgraph_ok: bool | None = None  # None: the check did not run
    graph_breaks: int | None = None
    max_frame_compiles: int | None = None
    recompile_budget: int | None = None
    recompiles_ok: bool | None = None
    limit_hit: bool = False
    parity_ok: bool | None = None
    exception_cases: int = 0
    exception_cases_same: int = 0  # compiled raised eager's type with eager's message
    error: str | None = None  # the exception type, for an errored target

    @property
    def clean(self) -> bool:
        return self.status is TargetStatus.PASSED

    @property
    def recompiles(self) -> int:
        """Compilations of the most-compiled frame beyond its first."""
        return max(0, (self.max_frame_compiles or 0) - 1)


def _passed(result: object) -> bool | None:
    status = getattr(result, "status", None)
    if status is None or status is CheckStatus.SKIPPED:
        return None
    return bool(status is CheckStatus.PASSED)


def cell_of(t: TargetResult) -> Cell:
    rec, exc = t.recompiles, t.exceptions
    cases = exc.cases if exc is not None else ()
    return Cell(
        status=t.status,
        hazard=bool(t.expected_flags),
        fullgraph_ok=_passed(t.fullgraph),
        graph_breaks=t.breaks.break_count if t.breaks is not None else None,
        max_frame_compiles=rec.max_frame_compiles if rec is not None else None,
        recompile_budget=rec.budget if rec is not None else None,
        recompiles_ok=_passed(rec),
        limit_hit=rec.limit_hit if rec is not None else False,
        parity_ok=_passed(t.parity),
        exception_cases=len(cases),
        exception_cases_same=sum(c.type_matches and c.message_matches for c in cases),
        error=t.error.type if t.error is not None else None,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetRow:
    name: str
    group: str
    informational: bool  # report-only (the guard comparison): never counted as unclean


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    """One report's column: the torch release it ran and every target's cell."""

    torch_version: str  # as recorded, e.g. 2.5.1+cu124
    release: tuple[int, int, int]
    commit: str  # short sha, -dirty for a changed tree
    time_utc: str
    duration_s: float
    cells: tuple[tuple[str, Cell], ...]

    @property
    def name(self) -> str:
        return release_name(self.release)

    def cell(self, target: str) -> Cell | None:
        return dict(self.cells).get(target)


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionMatrix:
    releases: tuple[Release, ...]  # oldest first
    targets: tuple[TargetRow, ...]  # in the newest report's order, then any others
    backend: str
    device: str
    dtype: str

    def first_clean(self, target: str) -> Release | None:
        """The oldest release from which `target` is clean in every newer one; None if not."""
        first: Release | None = None
        for release in self.releases:
            cell = release.cell(target)
            if cell is not None and cell.clean:
                first = first or release
            else:
                first = None
        return first

    def all_clean_from(self) -> Release | None:
        """The oldest release from which every audited (non-informational) target is clean."""
        audited = [t.name for t in self.targets if not t.informational]
        firsts = [self.first_clean(name) for name in audited]
        if not audited or any(f is None for f in firsts):
            return None
        return max(firsts, key=lambda r: r.release if r else (0, 0, 0))


def build_matrix(reports: Sequence[tuple[str, RunReport]]) -> VersionMatrix:
    """Merge (label, report) pairs; MatrixInputError names the label of a report that cannot be."""
    if not reports:
        raise MatrixInputError("no reports to merge")
    seen: dict[tuple[int, int, int], str] = {}
    releases: list[Release] = []
    for label, report in reports:
        if report.audit is None:
            raise MatrixInputError(f"{label}: holds no audit (a benchmark-only report)")
        release = torch_release(report.environment.torch_version)
        if release in seen:
            raise MatrixInputError(
                f"{label} and {seen[release]} both audit torch {release_name(release)}; "
                "give one report per release"
            )
        seen[release] = label
        releases.append(
            Release(
                torch_version=report.environment.torch_version,
                release=release,
                commit=report.environment.short_sha,
                time_utc=report.environment.time_utc,
                duration_s=report.audit.duration_s,
                cells=tuple((t.name, cell_of(t)) for t in report.audit.targets),
            )
        )
    settings = {
        (r.audit.settings.backend, r.audit.settings.device, r.audit.settings.dtype)
        for _, r in reports
        if r.audit is not None
    }
    if len(settings) > 1:
        found = "; ".join(f"{label}: {_settings(r)}" for label, r in reports)
        raise MatrixInputError(
            f"reports ran with different backend/device/dtype and do not compare ({found})"
        )
    ordered = sorted(
        zip(releases, (r for _, r in reports), strict=True), key=lambda p: p[0].release
    )
    targets: dict[str, TargetRow] = {}
    for _, report in reversed(ordered):
        assert report.audit is not None  # checked above
        for t in report.audit.targets:
            targets.setdefault(
                t.name, TargetRow(name=t.name, group=t.group, informational=t.informational)
            )
    backend, device, dtype = settings.pop()
    return VersionMatrix(
        releases=tuple(r for r, _ in ordered),
        targets=tuple(targets.values()),
        backend=backend,
        device=device,
        dtype=dtype,
    )


def _settings(report: RunReport) -> str:
    assert report.audit is not None
    s = report.audit.settings
    return f"{s.backend}/{s.device}/{s.dtype}"


# ----------------------------------------------------------------- rendering
def describe(cell: Cell | None) -> str:
    """A markdown cell: 'clean', or what is wrong in a few words."""
    if cell is None:
        return NOT_AUDITED
    if cell.status in _BROKEN:
        return f"{cell.status.value}: {cell.error}" if cell.error else cell.status.value
    if cell.clean:
        return "detected" if cell.hazard else "clean"
    problems = []
    if cell.fullgraph_ok is False:
        problems.append("no fullgraph")
    if cell.graph_breaks:
        problems.append(f"{cell.graph_breaks} break{'s' if cell.graph_breaks > 1 else ''}")
    if cell.recompiles_ok is False:
        problems.append(
            f"compiles {cell.max_frame_compiles}/{cell.recompile_budget}"
            + (" (limit hit)" if cell.limit_hit else "")
        )
    if cell.parity_ok is False:
        problems.append("parity differs")
    if cell.exception_cases_same < cell.exception_cases:
        problems.append(f"exceptions {cell.exception_cases_same}/{cell.exception_cases} same")
    return ", ".join(problems) or cell.status.value


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


def summarize(matrix: VersionMatrix, release: Release) -> ReleaseSummary:
    audited = [t.name for t in matrix.targets if not t.informational]
    cells = [c for name in audited if (c := release.cell(name)) is not None]
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
        broken=sum(c.status in _BROKEN for c in cells),
    )


def _summary_table(matrix: VersionMatrix) -> str:
    rows = []
    for release in matrix.releases:
        s = summarize(matrix, release)
        rows.append(
            [
                release.torch_version,
                f"**{s.clean}/{s.targets}**",
                f"{s.fullgraph_ok}/{s.targets}",
                f"{s.graph_breaks} in {s.targets_with_breaks} targets" if s.graph_breaks else "0",
                str(s.recompiles),
                str(s.over_budget),
                f"{s.parity_ok}/{s.targets}",
                f"{s.exception_cases_same}/{s.exception_cases} cases same",
                str(s.broken),
                seconds(release.duration_s),
                text(release.commit),
            ]
        )
    headers = (
        "torch",
        "targets clean",
        "fullgraph",
        "graph breaks",
        "recompiles",
        "over budget",
        "eager parity",
        "exception parity",
        "errors",
        "audit wall time",
        "commit",
    )
    return table(rows, headers)


def _target_table(matrix: VersionMatrix) -> str:
    rows = []
    for row in matrix.targets:
        first = matrix.first_clean(row.name)
        name = f"{row.name} (info)" if row.informational else row.name
        rows.append(
            [text(name), *(describe(r.cell(row.name)) for r in matrix.releases)]
            + [first.name if first else f"not clean in {matrix.releases[-1].name}"]
        )
    return table(rows, ("target", *(r.name for r in matrix.releases), "first clean"))


def matrix_markdown(matrix: VersionMatrix) -> str:
    oldest = matrix.all_clean_from()
    verdict = (
        f"**Every audited target is clean from torch {oldest.name} on.**"
        if oldest is not None
        else f"**No release audited has every target clean** (newest: {matrix.releases[-1].name})."
    )
    names = ", ".join(r.torch_version for r in matrix.releases)
    return "\n".join(
        [
            "# torch compatibility matrix",
            "",
            f"{len(matrix.releases)} audit reports merged ({names}); backend {matrix.backend}, "
            f"{matrix.device}, {matrix.dtype}. Oldest release first.",
            "",
            verdict,
            "",
            "## Per release",
            "",
            "Totals over the audited targets; informational targets (the guard comparison) "
            "are left out. Recompiles count compilations of a frame beyond its first, the "
            "lifecycle's planned ones included; *over budget* counts targets that compiled "
            "more than they allow. Exception parity: bad-input cases where the compiled "
            "module raised eager's exception type with eager's message. Wall times are "
            "this machine's, for the whole audit.",
            "",
            _summary_table(matrix),
            "",
            "## Per target",
            "",
            "A target is clean when no check flagged it. *First clean* is the oldest release "
            f"from which it stays clean in every newer one audited. *{NOT_AUDITED}*: the "
            "release's report has no such target.",
            "",
            _target_table(matrix),
            "",
        ]
    )


def matrix_frame(matrix: VersionMatrix) -> pd.DataFrame:
    """One row per (release, target), oldest release first, for pandas and spreadsheets."""
    rows = []
    for release in matrix.releases:
        for target in matrix.targets:
            cell = release.cell(target.name)
            first = matrix.first_clean(target.name)
            rows.append(
                {
                    "torch_release": release.name,
                    "torch_version": release.torch_version,
                    "target": target.name,
                    "group": target.group,
                    "informational": target.informational,
                    "audited": cell is not None,
                    "status": cell.status.value if cell else None,
                    "clean": cell.clean if cell else None,
                    "fullgraph_ok": cell.fullgraph_ok if cell else None,
                    "graph_breaks": cell.graph_breaks if cell else None,
                    "max_frame_compiles": cell.max_frame_compiles if cell else None,
                    "recompile_budget": cell.recompile_budget if cell else None,
                    "recompiles_ok": cell.recompiles_ok if cell else None,
                    "recompile_limit_hit": cell.limit_hit if cell else None,
                    "parity_ok": cell.parity_ok if cell else None,
                    "exception_cases": cell.exception_cases if cell else None,
                    "exception_cases_same": cell.exception_cases_same if cell else None,
                    "error": cell.error if cell else None,
                    "first_clean": first.name if first else None,
                }
            )
    frame = pd.DataFrame(rows)
    booleans = ("clean", "fullgraph_ok", "recompiles_ok", "recompile_limit_hit", "parity_ok")
    counts = (
        "graph_breaks",
        "max_frame_compiles",
        "recompile_budget",
        "exception_cases",
        "exception_cases_same",
    )
    return frame.astype({**dict.fromkeys(booleans, "boolean"), **dict.fromkeys(counts, "Int64")})


def matrix_csv(matrix: VersionMatrix) -> str:
    return str(matrix_frame(matrix).to_csv(index=False, lineterminator="\n"))
