"""python -m audits.matrix REPORT.json ...: the audit across torch releases, as one table.

Each REPORT is the report.json (or run directory) of `python -m audits.run` under one
torch release; the tox envs py311-torch{25,...,215} write them to
reports/matrix/<env>/, and the CI workflow's release jobs to artifacts of that name.
The merged version x target matrix goes to DIR/matrix.md and DIR/matrix.csv
(reporting.version_matrix and matrix_tables say what is in them).

Exit 0 when the matrix is written; 2 for bad usage or reports that cannot be merged
(missing, corrupt or of another schema, without an audit, two of one torch release, or
run with different backend/device/dtype), with one line saying which file and why.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from foundation.cli import UsageError, UsageParser

EXIT_OK, EXIT_USAGE = 0, 2
DEFAULT_OUT = Path("reports/matrix")


@dataclass(frozen=True, slots=True, kw_only=True)
class MatrixConfig:
    reports: tuple[Path, ...]  # report.json files or run directories, in any order
    out: Path = DEFAULT_OUT  # where matrix.md and matrix.csv are (re)written

    def __post_init__(self) -> None:
        if not self.reports:
            raise UsageError("give at least one REPORT.json")
        if self.out.exists() and not self.out.is_dir():
            raise UsageError(f"--out {self.out}: exists and is not a directory")


def build_parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="python -m audits.matrix",
        description="Merge audit reports of several torch releases into a version x target "
        "matrix (matrix.md, matrix.csv): fullgraph, graph breaks, recompiles, eager and "
        "exception parity per release, and the first release where each target is clean. "
        "Exit 0 when written, 2 for bad usage or reports that cannot be merged.",
    )
    p.add_argument(
        "reports",
        nargs="+",
        type=Path,
        metavar="REPORT",
        help="report.json of one audits.run per torch release (or its run directory), "
        "in any order: releases are sorted numerically, 2.5.1 < 2.9.1 < 2.13.0",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"directory for matrix.md and matrix.csv, replaced if present (default {DEFAULT_OUT})",
    )
    return p


def parse_config(argv: Sequence[str] | None) -> MatrixConfig:
    args = build_parser().parse_args(argv)
    return MatrixConfig(reports=tuple(args.reports), out=args.out)


def main(config: MatrixConfig) -> int:
    from foundation.files import atomic_write_text
    from reporting.matrix_tables import MATRIX_CSV, MATRIX_MD, matrix_csv, matrix_markdown
    from reporting.schema.report import ReportFormatError, load_report
    from reporting.version_matrix import MatrixInputError, build_matrix

    try:
        loaded = [(str(path), load_report(path)) for path in config.reports]
        matrix = build_matrix(loaded)
    except (ReportFormatError, MatrixInputError) as error:
        raise UsageError(str(error)) from None
    atomic_write_text(config.out / MATRIX_MD, matrix_markdown(matrix))
    atomic_write_text(config.out / MATRIX_CSV, matrix_csv(matrix))
    oldest = matrix.all_clean_from()
    releases = ", ".join(r.name for r in matrix.releases)
    verdict = (
        f"every audited target clean from torch {oldest.name}"
        if oldest
        else "no release has every audited target clean"
    )
    print(f"{config.out / MATRIX_MD}: torch {releases}; {verdict}")
    return EXIT_OK


def cli(argv: Sequence[str] | None = None) -> int:
    try:
        return main(parse_config(argv))
    except UsageError as exc:
        print(f"audits.matrix: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(cli())
