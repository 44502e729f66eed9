"""matrix.md and matrix.csv: the version matrix (reporting.version_matrix) rendered.

matrix.md is for reading: the verdict, a row of totals per release, and a row per target
with a few words per release and its first clean release. matrix.csv is for pandas: one
row per (release, target) with every figure. Neither compiles nor reads files.
"""

from __future__ import annotations

import pandas as pd

from reporting.schema.audit import BROKEN
from reporting.tables import Table, seconds, table
from reporting.version_matrix import Cell, VersionMatrix, summarize

MATRIX_MD = "matrix.md"
MATRIX_CSV = "matrix.csv"
NOT_AUDITED = "not audited"


def describe(cell: Cell | None) -> str:
    """A markdown cell: 'clean', or what is wrong in a few words."""
    if cell is None:
        return NOT_AUDITED
    if cell.status in BROKEN:
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
            + (" (limit hit)" if cell.recompile_limit_hit else "")
        )
    if cell.parity_ok is False:
        problems.append("parity differs")
    if cell.exception_cases_same < cell.exception_cases:
        problems.append(f"exceptions {cell.exception_cases_same}/{cell.exception_cases} same")
    return ", ".join(problems) or cell.status.value


def _markdown(found: Table | None) -> str:
    return found.markdown() if found is not None else ""


def _summary_table(matrix: VersionMatrix) -> Table | None:
    rows = []
    for release in matrix.releases:
        s = summarize(matrix, release)
        breaks = f"{s.graph_breaks} in {s.targets_with_breaks} targets" if s.graph_breaks else "0"
        totals = [f"**{s.clean}/{s.targets}**", f"{s.fullgraph_ok}/{s.targets}", breaks]
        totals += [str(s.recompiles), str(s.over_budget), f"{s.parity_ok}/{s.targets}"]
        totals += [f"{s.exception_cases_same}/{s.exception_cases} cases same", str(s.broken)]
        totals += [f"{s.hazards_detected}/{s.hazards}" if s.hazards else "-"]
        totals += [", ".join(release.missing_apis) or "-"]
        rows.append([release.torch_version, *totals, seconds(release.duration_s), release.commit])
    headers = (
        "torch | targets clean | fullgraph | graph breaks | recompiles | over budget | "
        "eager parity | exception parity | errors | hazards detected | not available | "
        "audit wall time | commit"
    )
    return table(headers, rows)


def _target_table(matrix: VersionMatrix) -> Table | None:
    rows = []
    for row in matrix.targets:
        first = matrix.first_clean(row.name)
        rows.append(
            [f"{row.name} (info)" if row.informational else row.name]
            + [describe(r.cell(row.name)) for r in matrix.releases]
            + [first.name if first else f"not clean in {matrix.releases[-1].name}"]
        )
    return table(" | ".join(("target", *(r.name for r in matrix.releases), "first clean")), rows)


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
            "and the hazards (wrong on purpose: their breaks and recompiles are planted) are "
            "left out, and *hazards detected* counts the hazards each release still flags. "
            "Recompiles count compilations of a frame beyond its first, the "
            "lifecycle's planned ones included; *over budget* counts targets that compiled "
            "more than they allow. Exception parity: bad-input cases where the compiled "
            "module raised eager's exception type with eager's message. *Not available*: APIs "
            "the export and cache checks use that the release lacks (those parts of the "
            "checks say so instead of failing; `-` when none was missing or neither check "
            "ran). Wall times are "
            "the whole audit's on the machine named in each report, and depend mostly on "
            "whether inductor's cache was warm: they do not rank the releases.",
            "",
            _markdown(_summary_table(matrix)),
            "",
            "## Per target",
            "",
            "A target is clean when no check flagged it. *First clean* is the oldest release "
            f"from which it stays clean in every newer one audited. *{NOT_AUDITED}*: the "
            "release's report has no such target.",
            "",
            _markdown(_target_table(matrix)),
            "",
        ]
    )


_BOOLEANS = "clean fullgraph_ok recompiles_ok recompile_limit_hit parity_ok".split()
_COUNTS = "graph_breaks max_frame_compiles recompile_budget exception_cases exception_cases_same"
_CELL_COLUMNS = (  # the Cell attributes matrix.csv holds, in its order
    "clean fullgraph_ok graph_breaks max_frame_compiles recompile_budget recompiles_ok "
    "recompile_limit_hit parity_ok exception_cases exception_cases_same error"
).split()


def matrix_frame(matrix: VersionMatrix) -> pd.DataFrame:
    """One row per (release, target), oldest release first, for pandas and spreadsheets."""
    rows = []
    for release in matrix.releases:
        for target in matrix.targets:
            cell = release.cell(target.name)
            first = matrix.first_clean(target.name)
            figures = {column: getattr(cell, column) if cell else None for column in _CELL_COLUMNS}
            rows.append(
                {
                    "torch_release": release.name,
                    "torch_version": release.torch_version,
                    "target": target.name,
                    "group": target.group,
                    "informational": target.informational,
                    "audited": cell is not None,
                    "status": cell.status.value if cell else None,
                    **figures,
                    "missing_apis": " ".join(cell.missing_apis) if cell else None,
                    "first_clean": first.name if first else None,
                }
            )
    types = {**dict.fromkeys(_BOOLEANS, "boolean"), **dict.fromkeys(_COUNTS.split(), "Int64")}
    return pd.DataFrame(rows).astype(types)


def matrix_csv(matrix: VersionMatrix) -> str:
    return str(matrix_frame(matrix).to_csv(index=False, lineterminator="\n"))
