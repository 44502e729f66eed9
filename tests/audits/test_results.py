"""The audit result types survive a JSON round trip and judge failures correctly."""

import json
import math

import pytest

from audits.results import (
    SCHEMA_VERSION,
    CheckName,
    CheckStatus,
    Environment,
    FailOn,
    FullgraphResult,
    GraphBreakInfo,
    Mode,
    ModeParity,
    ParityResult,
    RecompilesResult,
    RunResult,
    RunSettings,
    SourceLocation,
    StepCompiles,
    TargetResult,
    TargetStatus,
    TensorDiff,
)


def _run(*targets: TargetResult, fail_on=tuple(FailOn)) -> RunResult:
    return RunResult(
        environment=Environment(
            torch_version="2.13.0",
            python_version="3.11",
            platform="linux",
            device="cpu",
            device_name="cpu",
            cpu_count=2,
        ),
        settings=RunSettings(backend="aot_eager", device="cpu", dtype="fp32", fail_on=fail_on),
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
                    mode=Mode.EVAL,
                    dtype="float32",
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


def test_run_result_round_trips_through_strict_json(tmp_path):
    """write() then load() rebuilds the same typed tree, non-finite floats included."""
    run = _run(_broken_target())
    path = run.write(tmp_path)
    json.loads(path.read_text())  # strict JSON: no bare NaN/Infinity
    loaded = RunResult.load(tmp_path)
    assert loaded == run
    assert loaded.targets[0].fullgraph.graph_break.location.line == 3
    assert loaded.targets[0].parity.worst_abs == math.inf
    assert loaded.schema_version == SCHEMA_VERSION


def test_unknown_schema_version_is_refused():
    """A result file from another schema version raises instead of being misread."""
    data = _run().to_dict()
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="schema"):
        RunResult.from_dict(data)


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
