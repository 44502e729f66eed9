"""Shapes: how often does a compiled module compile as its input sizes change?

The target declares which input dims vary (`Target.dynamic_dims`); the check
calls one compiled module over a sweep of sizes (dims of one kind share a
size per call) and counts dynamo's compilations per call. Torch compiles the
first shape statically; when a size changes, automatic dynamic shapes
recompiles with that dim symbolic, and a later size 1 compiles again, because
dynamic sizes are assumed to be >= 2 (0/1 specialisation). That is the budget
of a module whose dims are dynamic by design. Whatever else recompiles is the
module specialising a size: the guard that failed is reported with the user's
line where torch names one, and the narrowest advice (mark_dynamic on the
swept dims, then dynamic=True, then padding to one bucket) is tried by
running the sweep again with it applied.

The sweep itself (sizes, calls, what each compilation was) is
audits.checks.shape_sweep; this module turns it into findings and advice.
"""

from __future__ import annotations

import re
from dataclasses import replace

import torch
from torch import nn

from audits.checks.common import CheckSettings, prepare_module, target_inputs
from audits.checks.shape_sweep import (
    InputName,
    Point,
    Size,
    Sweep,
    bucket_size,
    input_names,
    inputs_at,
    module_files,
    run_sweep,
    sweep_points,
    validate_dims,
)
from audits.graph_breaks import first_line
from audits.targets import DynamicDim, Inputs, Target
from reporting.schema.audit import CheckStatus
from reporting.schema.shapes import (
    AdviceKind,
    AdviceTrial,
    GuardFailure,
    ShapesResult,
    Specialisation,
    SpecialisationKind,
)

_DIVISION = re.compile(r"//|%|Mod\(|FloorDiv\(")


def _describe(d: DynamicDim, names: tuple[InputName, ...]) -> str:
    return f"{names[d.input].name} dim {d.dim} ({d.kind.value})"


def specialisations(
    sweep: Sweep,
    dims: tuple[DynamicDim, ...],
    points: tuple[Point, ...],
    names: tuple[InputName, ...],
) -> tuple[tuple[Specialisation, ...], int | None]:
    """Swept sizes compiled as constants once dims turned dynamic, and the call they turned at.

    Dims turn dynamic at the first compile that made a swept dim a symbol (whether or
    not the code then kept it one).
    """
    keys = {(names[d.input].source, d.dim): d for d in dims}
    dynamic_from = next(
        (n for n, g in sweep.graphs if any(g.get(k, Size.STATIC) is not Size.STATIC for k in keys)),
        None,
    )
    found: dict[tuple[str, SpecialisationKind], Specialisation] = {}

    def note(
        kind: SpecialisationKind, d: DynamicDim, call: int, failure: GuardFailure | None
    ) -> None:
        """The first specialisation of its kind per dim, at `call`, behind `failure`."""
        dim = _describe(d, names)
        found.setdefault(
            (dim, kind),
            Specialisation(
                kind=kind,
                dim=dim,
                value=points[call - 1].size_of(d.kind),
                call=call,
                guard=failure.guard if failure else "",
                location=failure.location if failure else None,
            ),
        )

    for n, graph in sweep.graphs:
        if dynamic_from is None or n < dynamic_from:
            continue
        for key, d in keys.items():
            how = graph.get(key, Size.SYMBOL)  # absent: not an input of this graph
            if how is not Size.SYMBOL:
                one = how is Size.STATIC and points[n - 1].size_of(d.kind) == 1
                kind = SpecialisationKind.SIZE_ONE if one else SpecialisationKind.CONSTANT
                note(kind, d, n, next(iter(sweep.calls[n - 1].guard_failures), None))
    for call in sweep.calls:
        for failure in call.guard_failures:
            if _DIVISION.search(failure.guard):
                named = (
                    d for d in dims if f"{names[d.input].name}.size()[{d.dim}]" in failure.guard
                )
                note(SpecialisationKind.DIVISIBILITY, next(named, dims[0]), call.call, failure)
    return tuple(found.values()), dynamic_from


def _floor(points: tuple[Point, ...]) -> int:
    """Compiles no advice removes: the first, and size 1's (0/1 specialisation)."""
    return 1 + int(any(s == 1 for p in points for _, s in p.sizes))


def _trial(advice: AdviceKind, code: str, sweep: Sweep, points: tuple[Point, ...]) -> AdviceTrial:
    error = sweep.errors[0] if sweep.errors else None
    return AdviceTrial(
        advice=advice,
        code=code,
        total_compiles=len(sweep.ids),
        max_frame_compiles=sweep.max_frame,
        removes_recompiles=error is None and sweep.max_frame <= _floor(points),
        error=f"{type(error).__name__}: {first_line(error)}" if error else None,
        location=sweep.error_sites[0] if error else None,
    )


def advise(
    target: Target,
    settings: CheckSettings,
    dims: tuple[DynamicDim, ...],
    points: tuple[Point, ...],
    names: tuple[InputName, ...],
    files: tuple[str, ...],
) -> tuple[AdviceTrial, ...]:
    """Run the sweep again with each advice, narrowest first, until one removes the recompiles."""
    marks = "; ".join(f"torch._dynamo.mark_dynamic({names[d.input].name}, {d.dim})" for d in dims)
    pads = ", ".join(f"{_describe(d, names)} to {bucket_size(d, dims)}" for d in dims)
    ladder: tuple[tuple[AdviceKind, str], ...] = (
        (AdviceKind.MARK_DYNAMIC, marks),
        (AdviceKind.DYNAMIC_TRUE, "torch.compile(module, dynamic=True)"),
        (AdviceKind.PAD_TO_BUCKETS, f"pad {pads} (and mask the padding)"),
    )
    trials: list[AdviceTrial] = []
    for advice, code in ladder:
        sweep = run_sweep(
            target,
            settings,
            dims,
            points,
            files=files,
            mark_dynamic=advice is AdviceKind.MARK_DYNAMIC,
            dynamic=advice is AdviceKind.DYNAMIC_TRUE,
            bucket=advice is AdviceKind.PAD_TO_BUCKETS,
        )
        trials.append(_trial(advice, code, sweep, points))
        if trials[-1].removes_recompiles:
            break
    return tuple(trials)


def _check_eager(
    target: Target,
    module: nn.Module,
    example: Inputs,
    dims: tuple[DynamicDim, ...],
    points: tuple[Point, ...],
    names: tuple[InputName, ...],
) -> None:
    """Every swept size must run in eager, or the declared dims are not free to vary."""
    for point in points:
        try:
            with torch.no_grad():
                module(*inputs_at(example, dims, point))
        except Exception as exc:
            sizes = ", ".join(f"{k.value} {s}" for k, s in point.sizes)
            swept = ", ".join(_describe(d, names) for d in dims)
            raise ValueError(
                f"target {target.name!r}: eager fails at {sizes} ({type(exc).__name__}: "
                f"{first_line(exc)}); the dynamic dims {swept} cannot take these sizes"
            ) from exc


def check_shapes(target: Target, settings: CheckSettings) -> ShapesResult:
    """Sweep the target's dynamic dims through one compiled module and count its compiles."""
    if not target.dynamic_dims:
        return ShapesResult(
            status=CheckStatus.SKIPPED, skipped_reason="the target declares no dynamic dims"
        )
    example = target_inputs(target, settings)
    dims = validate_dims(target, example)
    points = sweep_points(dims)
    module = prepare_module(target, settings)
    names = input_names(module, len(example))
    files = module_files(module)
    _check_eager(target, module, example, dims, points, names)
    by_source = {n.source: n.name for n in names}
    sweep = run_sweep(target, settings, dims, points, files=files, names=by_source)
    found, dynamic_from = specialisations(sweep, dims, points, names)
    varies = any(len({p.size_of(k) for p in points}) > 1 for k, _ in points[0].sizes)
    budget = _floor(points) + int(varies)
    over = sweep.max_frame > budget
    trials = advise(target, settings, dims, points, names, files) if over else ()
    advice = next((t for t in trials if t.removes_recompiles), None)
    # A constraint violation under mark_dynamic names the line that specialised the dim.
    site = next((t.location for t in trials if t.location is not None), None)
    found = tuple(
        replace(f, location=site)
        if f.kind is SpecialisationKind.CONSTANT and f.location is None
        else f
        for f in found
    )
    failed = over or bool(sweep.errors)
    return ShapesResult(
        status=CheckStatus.FAILED if failed else CheckStatus.PASSED,
        dims=tuple(_describe(d, names) for d in dims),
        calls=tuple(sweep.calls),
        total_compiles=len(sweep.ids),
        max_frame_compiles=sweep.max_frame,
        budget=budget,
        dynamic_from_call=dynamic_from,
        specialisations=found,
        advice=advice,
        trials=trials,
    )
