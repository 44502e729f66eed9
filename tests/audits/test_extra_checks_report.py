"""The shapes and export results in the report: console lines, report.md sections and the
regression rules (more compiles over the sweep, an export that newly fails)."""

import dataclasses

from support.synthetic_reports import report, target

from reporting.console import first_problem
from reporting.markdown import render_markdown
from reporting.regressions import RegressionKind, compare_targets
from reporting.schema.basics import CheckStatus, SourceLocation
from reporting.schema.cache import CacheCounts, CacheResult, CacheRun, CacheRunKind
from reporting.schema.cudagraphs import CudagraphsResult, CudagraphStep
from reporting.schema.export import ExportAttempt, ExportParity, ExportResult
from reporting.schema.shapes import (
    AdviceKind,
    AdviceTrial,
    DimKind,
    GuardFailure,
    ShapeCall,
    ShapesResult,
)
from reporting.schema.vocabulary import Task

WHERE = SourceLocation(file="model.py", line=7, function="forward", code="n = x.shape[0]")


def _shapes(compiles: int, budget: int = 3) -> ShapesResult:
    guard = GuardFailure(compile_id="0/1", guard="x.size()[0] == 4", location=WHERE)
    calls = tuple(
        ShapeCall(
            call=n,
            sizes=((DimKind.BATCH, size),),
            compiles=1 if n <= compiles else 0,
            guard_failures=(guard,) if 1 < n <= compiles else (),
        )
        for n, size in enumerate((2, 4, 8, 3, 1), start=1)
    )
    fix = AdviceTrial(
        advice=AdviceKind.MARK_DYNAMIC,
        code="torch._dynamo.mark_dynamic(x, 0)",
        total_compiles=2,
        max_frame_compiles=2,
        removes_recompiles=True,
    )
    failed = compiles > budget
    return ShapesResult(
        status=CheckStatus.FAILED if failed else CheckStatus.PASSED,
        dims=("x dim 0 (batch)",),
        calls=calls,
        total_compiles=compiles,
        max_frame_compiles=compiles,
        budget=budget,
        dynamic_from_call=2,
        advice=fix if failed else None,
        trials=(fix,) if failed else (),
    )


def _export(*, strict_ok: bool) -> ExportResult:
    parity = ExportParity(max_abs=0.0, atol=1e-5, rtol=1e-4, passed=True)
    attempts = (
        ExportAttempt(strict=False, exported=True, seconds=0.1, parity=parity),
        ExportAttempt(strict=True, exported=True, seconds=0.1, parity=parity)
        if strict_ok
        else ExportAttempt(
            strict=True,
            exported=False,
            seconds=0.1,
            error_type="Unsupported",
            error_message="Data-dependent branching",
            location=WHERE,
        ),
    )
    return ExportResult(
        status=CheckStatus.PASSED if strict_ok else CheckStatus.FAILED,
        mode=Task.INFER,
        attempts=attempts,
    )


def test_more_compiles_over_the_sweep_is_a_regression_and_the_same_count_is_not():
    """3 -> 5 compiles over the same sweep regresses; 3 -> 3 does not."""
    base = target("t", shapes=_shapes(3))
    worse = compare_targets(base, target("t", shapes=_shapes(5)))
    assert [f.kind for f in worse] == [RegressionKind.SHAPES]
    assert "3 -> 5" in worse[0].detail
    assert compare_targets(base, target("t", shapes=_shapes(3))) == []


def test_an_export_that_newly_fails_is_a_regression_but_a_known_failure_is_not():
    """strict export working before and failing now regresses; failing in both does not."""
    ok, broken = _export(strict_ok=True), _export(strict_ok=False)
    found = compare_targets(target("t", export=ok), target("t", export=broken))
    assert [f.kind for f in found] == [RegressionKind.EXPORT]
    assert "strict export now fails: Unsupported" in found[0].detail
    assert compare_targets(target("t", export=broken), target("t", export=broken)) == []


def test_the_console_names_the_guard_and_the_fix_and_the_export_error_site():
    """A failed sweep shows its guard with the user's line and the narrowest fix."""
    lines = first_problem(
        target(
            "t",
            status=dataclasses.replace(target()).status,
            shapes=_shapes(5),
            export=_export(strict_ok=False),
        )
    )
    text = "\n".join(lines)
    assert "shapes: 5 compiles over the sweep for a budget of 3" in text
    assert "guard failed: x.size()[0] == 4 at model.py:7: n = x.shape[0]" in text
    assert "narrowest fix (mark_dynamic): torch._dynamo.mark_dynamic(x, 0)" in text
    assert "export (strict): Unsupported: Data-dependent branching at model.py:7" in text


def test_report_md_has_the_sections_only_when_the_checks_ran():
    """No --shapes/--export: no sections; with them: a row per target and attempt."""
    assert "## Shapes" not in render_markdown(report(target("t")))
    text = render_markdown(report(target("t", shapes=_shapes(5), export=_export(strict_ok=False))))
    assert "## Shapes (--shapes)" in text and "| 5/3 " in text
    assert "## Export (--export)" in text and "`model.py:7`" in text


def _cache(warm_misses: int) -> CacheResult:

    def run(kind, misses):
        counts = CacheCounts(hits=2 - misses, misses=misses)
        return CacheRun(kind=kind, compile_s=1.0, fx_graph=counts, autograd=CacheCounts(hits=1))

    return CacheResult(
        status=CheckStatus.FAILED if warm_misses else CheckStatus.PASSED,
        mode=Task.TRAIN,
        runs=(run(CacheRunKind.COLD, 2), run(CacheRunKind.WARM, warm_misses)),
    )


def test_a_new_cache_miss_is_a_regression_and_the_console_names_the_cache():
    """0 -> 1 misses in the warm process regresses; the cold process's misses never count."""
    found = compare_targets(target("t", cache=_cache(0)), target("t", cache=_cache(1)))
    assert [f.kind for f in found] == [RegressionKind.CACHE]
    assert compare_targets(target("t", cache=_cache(1)), target("t", cache=_cache(1))) == []
    text = "\n".join(first_problem(target("t", cache=_cache(1))))
    assert "cache (warm process): FX graph cache 1 hit, 1 miss" in text
    assert "## Compile caches (--cache)" in render_markdown(report(target("t", cache=_cache(1))))


def _cudagraphs(skips: int) -> CudagraphsResult:

    step = CudagraphStep(
        step="alpha 0.1",
        calls=1,
        recordings=0,
        skips=skips,
        skip_reasons=("mutated inputs (1 instances)",) if skips else (),
        max_recordings=0,
    )
    return CudagraphsResult(
        status=CheckStatus.FAILED if skips else CheckStatus.PASSED,
        recorded=True,
        total_recordings=2,
        total_skips=skips,
        steps=(step,),
    )


def test_a_new_cudagraph_skip_is_a_regression_with_torchs_reason():
    """A skip that was not there before regresses, and the console quotes torch's reason."""
    found = compare_targets(
        target("t", cudagraphs=_cudagraphs(0)), target("t", cudagraphs=_cudagraphs(1))
    )
    assert [f.kind for f in found] == [RegressionKind.CUDAGRAPHS]
    text = "\n".join(first_problem(target("t", cudagraphs=_cudagraphs(1))))
    assert "step 'alpha 0.1' skipped CUDA graphs: mutated inputs" in text
