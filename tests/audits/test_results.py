"""The audit result types survive the report's JSON round trip and judge failures correctly."""

import json
import math

import pytest
from support.synthetic_reports import environment

from reporting.schema.audit import (
    AuditConfig,
    AuditRun,
    CheckName,
    CheckStatus,
    FailOn,
    FullgraphResult,
    GraphBreakInfo,
    ModeParity,
    ParityResult,
    RecompilesResult,
    SourceLocation,
    StepCompiles,
    TargetResult,
    TargetStatus,
    TensorDiff,
)
from reporting.schema.report import (
    REPORT_SCHEMA_VERSION,
    ReportFormatError,
    RunReport,
    load_report,
    report_from_json,
    report_to_json,
)
from reporting.schema.vocabulary import Precision, Task


def _run(*targets: TargetResult, fail_on=tuple(FailOn)) -> AuditRun:
    return AuditRun(
        config=AuditConfig(backend="aot_eager", device="cpu", fail_on=fail_on),
        targets=targets,
    )


def _broken_target(**kwargs) -> TargetResult:
    where = SourceLocation(file="m.py", line=3, function="forward", code="print(x)")
    return TargetResult(
        name="t",
        group="user",
        status=TargetStatus.FAILED,
        fullgraph=FullgraphResult(
            status=CheckStatus.FAILED,
            error_type="Unsupported",
            graph_break=GraphBreakInfo(gb_type="x", gb_code="GB0001", hints=("h",), location=where),
        ),
        recompiles=RecompilesResult(
            status=CheckStatus.PASSED,
            fullgraph=True,
            total_compiles=1,
            max_frame_compiles=1,
            budget=1,
            recompile_limit=8,
            steps=(StepCompiles(step="repeat", calls=3, compiles=1),),
        ),
        parity=ParityResult(
            status=CheckStatus.PASSED,
            modes=(
                ModeParity(
                    mode=Task.INFER,
                    dtype=Precision.FP32,
                    output=TensorDiff(
                        name="output",
                        max_abs=math.inf,
                        max_rel=0.5,
                        atol=1e-5,
                        rtol=1e-4,
                        passed=False,
                    ),
                ),
            ),
        ),
        **kwargs,
    )


def test_audit_run_round_trips_through_strict_json(tmp_path):
    """report.json written then loaded rebuilds the same typed tree, non-finite floats included."""
    run = _run(_broken_target())
    path = tmp_path / "report.json"
    path.write_text(report_to_json(RunReport(environment=environment(), audit=run)))
    json.loads(path.read_text(), parse_constant=_refuse)  # strict JSON: no bare NaN/Infinity
    loaded = load_report(tmp_path).audit
    assert loaded == run
    assert loaded.targets[0].fullgraph.graph_break.location.line == 3
    assert loaded.targets[0].parity.worst_abs == math.inf


def _refuse(literal):
    raise AssertionError(f"{literal} is not JSON")


def test_unknown_schema_version_is_refused():
    """A report of another schema version raises instead of being misread."""
    data = json.loads(report_to_json(RunReport(environment=environment(), audit=_run())))
    data["schema_version"] = REPORT_SCHEMA_VERSION + 1
    with pytest.raises(ReportFormatError, match="version"):
        report_from_json(json.dumps(data))


def test_fail_on_breaks_covers_fullgraph_and_nothing_else():
    """--fail-on recompiles ignores a fullgraph failure; --fail-on breaks catches it."""
    target = _broken_target()
    assert target.flagged == (CheckName.FULLGRAPH,)
    assert _run(target, fail_on=(FailOn.RECOMPILES,)).failed_targets == ()
    assert _run(target, fail_on=(FailOn.BREAKS,)).failed_targets == (target,)


def test_hazard_fails_only_when_its_expected_flag_is_missing():
    """A hazard flagged as expected passes; one expecting a recompile flag it lacks fails."""
    detected = _broken_target(expected_flags=(CheckName.FULLGRAPH,))
    missed = _broken_target(expected_flags=(CheckName.RECOMPILES,))
    assert detected.failing(tuple(FailOn)) == ()
    assert missed.failing(tuple(FailOn)) == (CheckName.RECOMPILES,)
