"""python -m audits.compare BASE NEW: the regressions of one saved run against another.

BASE and NEW are report.json files or run directories (reports/latest works too). The
regression report is printed as markdown and appended to $GITHUB_STEP_SUMMARY when that
is set. Exit 0: no regression; 1: a regression; 2: bad usage or an unreadable report,
with one line saying which file and why.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reporting.baseline import EXIT_BAD_BASELINE, gate, load_baseline
from reporting.regressions import DEFAULT_THRESHOLD
from reporting.schema.report import ReportFormatError, load_report


@dataclass(frozen=True, slots=True, kw_only=True)
class CompareConfig:
    base: Path
    new: Path
    threshold: float = DEFAULT_THRESHOLD  # a speedup must drop by more than this fraction

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(
                f"--threshold must be a fraction in (0, 1), e.g. 0.10; got {self.threshold}"
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m audits.compare",
        description="What got worse between two audit/benchmark runs; exit 1 on a regression.",
    )
    add = parser.add_argument
    add("base", type=Path, metavar="BASE", help="baseline report.json or run directory")
    add("new", type=Path, metavar="NEW", help="report.json or run directory to check")
    add(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="relative speedup drop that counts, if also outside both 95%% CIs (default: 0.10)",
    )
    return parser


def main(config: CompareConfig) -> int:
    try:
        base = load_baseline(config.base)
        new = load_report(config.new)
    except ReportFormatError as error:
        print(f"audits.compare: error: {error}", file=sys.stderr)
        return EXIT_BAD_BASELINE
    code, _ = gate(base, new, threshold=config.threshold)
    return code


def cli(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = CompareConfig(base=args.base, new=args.new, threshold=args.threshold)
    except ValueError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    return main(config)


if __name__ == "__main__":
    sys.exit(cli())
