"""The regression report as markdown: printed, and appended to $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import os
from pathlib import Path

from reporting.regressions import RegressionReport
from reporting.tables import markdown_text, table

COMPARISON_MD = "comparison.md"  # the regression report's copy inside the new run's directory
_STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


def render_regressions(result: RegressionReport) -> str:
    regressions = result.regressions
    targets = sorted({f.target for f in regressions})
    if regressions:
        verdict = f"**{len(regressions)} regression(s)** in {len(targets)} target(s)"
    else:
        verdict = "**no regressions**"
    lines = [
        "## esper regression report",
        "",
        f"{verdict}: {result.targets_compared} targets and "
        f"{result.speedups_compared} speedups compared.",
        "",
        f"- baseline: {markdown_text(result.base_label)}",
        f"- this run: {markdown_text(result.new_label)}",
    ]
    if result.timings_compared:
        lines.append(
            f"- timings compared ({result.timings_reason}): a speedup regresses when it drops "
            f"by more than {result.threshold:.0%} and falls outside both 95 % CIs."
        )
    else:
        lines.append(
            f"- **timings not compared** ({result.timings_reason}): only compile-status items "
            "(status, graph breaks, recompiles, parity, exception parity) were compared."
        )
    rows = [
        [f.target, f.kind.value, f.detail, "yes" if f.gating else "no (informational)"]
        for f in result.findings
    ]
    findings = table("target | regression | detail | fails the run", rows, limit=220)
    if findings is not None:
        lines.extend(["", findings.markdown()])
    if result.notes:
        lines.extend(["", "Notes:", ""])
        lines.extend(f"- {markdown_text(note, 300)}" for note in result.notes)
    return "\n".join(lines) + "\n"


def append_step_summary(markdown: str, environ: dict[str, str] | None = None) -> Path | None:
    """Append to the file GitHub Actions names in $GITHUB_STEP_SUMMARY, when it names one."""
    target = (os.environ if environ is None else environ).get(_STEP_SUMMARY)
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as handle:  # appended: other steps write there too
        handle.write(markdown + "\n")
    return path
