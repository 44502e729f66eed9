"""The shapes check's sweep: the sizes it calls a compiled module at, and what each
compilation was (static, dynamic, specialised), with the guard that failed and the
user's line behind each recompile. audits.checks.shapes turns a sweep into findings.

Which compilations were dynamic is read from the graphs dynamo hands the
backend: a tensor input whose swept size is a symbol compiled dynamically; a
swept size that is a plain number after a dynamic compile was specialised.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import torch
from torch import nn

from audits.checks.breaks import GraphRecorder
from audits.checks.common import (
    CheckSettings,
    compile_log,
    describe_guard,
    frame_of,
    guard_failure_marks,
    guard_failures_since,
    max_frame_compiles,
    prepare_module,
    target_inputs,
)
from audits.checks.torch_logs import loggers_at
from audits.graph_breaks import first_line, is_user_file, source_location
from audits.targets import DynamicDim, Inputs, Target
from audits.torch_compat import shape_guards_logged
from reporting.schema.audit import SourceLocation
from reporting.schema.shapes import DimKind, GuardFailure, ShapeCall

# Default sizes per kind. The batch sweep starts above 1 so that the call where dims
# turn dynamic and the 0/1 specialisation of size 1 show up as separate compiles.
DEFAULT_SIZES: dict[DimKind, tuple[int, ...]] = {
    DimKind.BATCH: (2, 4, 8, 3, 1),
    DimKind.SEQUENCE: (4, 8, 5),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    sizes: tuple[tuple[DimKind, int], ...]

    def size_of(self, kind: DimKind) -> int:
        return dict(self.sizes)[kind]


def sweep_points(dims: tuple[DynamicDim, ...]) -> tuple[Point, ...]:
    """One size per kind per call; kinds with shorter sweeps cycle."""
    per_kind: dict[DimKind, tuple[int, ...]] = {}
    for d in dims:
        sizes = d.sizes or DEFAULT_SIZES[d.kind]
        if d.max_size is not None:
            sizes = tuple(s for s in sizes if s <= d.max_size) or (d.max_size,)
        known = per_kind.get(d.kind)
        if known is not None and known != sizes:
            # dims of one kind share a size per call, so they must share a sweep
            sizes = tuple(s for s in known if s in sizes) or known[:1]
        per_kind[d.kind] = sizes
    length = max(len(s) for s in per_kind.values())
    return tuple(
        Point(sizes=tuple((k, sizes[i % len(sizes)]) for k, sizes in per_kind.items()))
        for i in range(length)
    )


def resize(x: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """`x` cut or tiled along `dim` to `size`, as a fresh leaf (integer ids stay valid)."""
    have = x.shape[dim]
    if size > have:
        x = torch.cat([x] * -(-size // have), dim=dim)
    out = x.detach().narrow(dim, 0, size).clone()
    return out.requires_grad_(x.requires_grad)


@dataclass(frozen=True, slots=True, kw_only=True)
class InputName:
    name: str  # as the user wrote it in forward: "x", "args[0]"
    source: str  # as dynamo names it: "L['x']", "L['args'][0]"


def input_names(module: nn.Module, count: int) -> tuple[InputName, ...]:
    """How forward names each positional input, and how dynamo's sources spell it."""
    import inspect

    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    rest = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), None)
    names = []
    for i in range(count):
        if i < len(positional):
            names.append(InputName(name=positional[i], source=f"L['{positional[i]}']"))
        elif rest is not None:
            j = i - len(positional)
            names.append(InputName(name=f"{rest}[{j}]", source=f"L['{rest}'][{j}]"))
        else:
            names.append(InputName(name=f"input[{i}]", source=f"input[{i}]"))
    return tuple(names)


def validate_dims(target: Target, inputs: Inputs) -> tuple[DynamicDim, ...]:
    """The target's dynamic dims, checked against its example inputs; ValueError if wrong."""
    dims = target.dynamic_dims or ()
    for d in dims:
        x = inputs[d.input] if d.input < len(inputs) else None
        if d.input >= len(inputs):
            problem = f"dynamic dim names input {d.input}, but the target has {len(inputs)} inputs"
        elif not isinstance(x, torch.Tensor):
            problem = f"dynamic dim names input {d.input}, a {type(x).__name__}, not a tensor"
        elif d.dim >= x.dim():
            problem = f"dynamic dim {d.dim} of input {d.input}, which has shape {tuple(x.shape)}"
        elif x.shape[d.dim] == 0:
            problem = f"input {d.input} is empty along dim {d.dim}; it cannot be resized"
        else:
            continue
        raise ValueError(f"target {target.name!r}: {problem}")
    return dims


def inputs_at(
    inputs: Inputs, dims: tuple[DynamicDim, ...], point: Point, bucket: bool = False
) -> Inputs:
    out = list(inputs)
    for d in dims:
        size = point.size_of(d.kind)
        if bucket:
            size = bucket_size(d, dims)
        out[d.input] = resize(out[d.input], d.dim, size)
    return tuple(out)


def bucket_size(d: DynamicDim, dims: tuple[DynamicDim, ...]) -> int:
    """One bucket per kind: the largest swept size rounded up to a power of two, capped."""
    largest = max(s for p in sweep_points(dims) for k, s in p.sizes if k is d.kind)
    size = 1 << (largest - 1).bit_length()
    return min(size, d.max_size) if d.max_size is not None else size


class Size(Enum):
    """How a compiled graph holds one input dim."""

    STATIC = "static"  # a plain number: compiled for this size only
    SYMBOL = "symbol"  # dynamic
    SPECIALISED = "specialised"  # dynamo made it a symbol, then the code fixed its value


class _SymbolRecorder(GraphRecorder):
    """A backend that records, per compilation, how each tensor input dim was compiled."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self.graphs: list[dict[tuple[str, int], Size]] = []  # (source, dim) -> how

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
        from torch.fx.experimental.symbolic_shapes import is_concrete_int

        seen: dict[tuple[str, int], Size] = {}
        for node in gm.graph.find_nodes(op="placeholder"):
            value = node.meta.get("example_value")
            arg = node.meta.get("grapharg")
            if not isinstance(value, torch.Tensor) or arg is None or arg.source is None:
                continue
            source = arg.source.name
            source = source() if callable(source) else source  # a method before torch 2.10
            for i, size in enumerate(value.shape):
                if not isinstance(size, torch.SymInt):
                    how = Size.STATIC
                else:
                    how = Size.SPECIALISED if is_concrete_int(size) else Size.SYMBOL
                seen[(str(source), i)] = how
        self.graphs.append(seen)
        return super().__call__(gm, example_inputs)


@dataclass(slots=True)
class Sweep:
    calls: list[ShapeCall] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    graphs: list[tuple[int, dict[tuple[str, int], Size]]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    # Per error, the user line torch blames for it (a specialised dim), when it names one.
    error_sites: list[SourceLocation | None] = field(default_factory=list)

    @property
    def max_frame(self) -> int:
        return max_frame_compiles(self.ids)


_LOCATION = re.compile(r"#\s*(?P<code>[^#]*?)\s*#\s*(?P<file>\S+):(?P<line>\d+) in (?P<fn>\w+)")
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))


def guard_location(text: str, files: tuple[str, ...]) -> SourceLocation | None:
    """The user line in a guard's text ("# code  # file.py:12 in forward"), if it names one.

    Torch shortens the path; it is matched against the files of the module's classes,
    and a path inside torch is not the user's.
    """
    match = _LOCATION.search(text)
    return None if match is None else user_location(match, files)


def user_location(match: re.Match[str], files: tuple[str, ...]) -> SourceLocation | None:
    """A location torch printed as "<code>  # <shortened file>:<line> in <fn>", if the user's."""
    tail = match["file"]
    if os.path.exists(os.path.join(_TORCH_DIR, tail)):
        return None
    full = next((f for f in files if f.endswith(tail)), tail)
    if not is_user_file(full):
        return None
    return source_location(full, int(match["line"]), match["fn"], match["code"])


def module_files(module: nn.Module) -> tuple[str, ...]:
    import inspect

    found: dict[str, None] = {}
    for m in module.modules():
        with contextlib.suppress(TypeError, OSError):
            found[os.path.abspath(inspect.getfile(type(m)))] = None
    return tuple(found)


def _latest_failures(reasons: list[str], files: tuple[str, ...]) -> tuple[GuardFailure, ...]:
    """Per frame, the failed guard of its latest compilation.

    Dynamo lists a failure for every cached graph of the frame it tried, newest first;
    the older ones repeat what earlier recompiles already reported.
    """
    found: dict[str, GuardFailure] = {}
    for text in (describe_guard(r) for r in reasons):
        compile_id, _, rest = text.partition(": ")
        if not rest:
            compile_id, rest = "?", text
        found.setdefault(
            frame_of(compile_id),
            GuardFailure(
                compile_id=compile_id,
                guard=rest.split("#", 1)[0].strip(),
                location=guard_location(text, files),
            ),
        )
    return tuple(found.values())


_USER_FRAME = re.compile(
    r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<fn>\w+)\n\s*(?P<code>.*)'
)


def error_location(exc: BaseException, files: tuple[str, ...]) -> SourceLocation | None:
    """The innermost user frame of the "User stack" torch prints in a constraint violation."""
    frames = [m for m in _USER_FRAME.finditer(str(exc)) if is_user_file(m["file"])]
    if not frames:
        return None
    last = frames[-1]
    return source_location(last["file"], int(last["line"]), last["fn"], last["code"])


_CONSTANT_GUARD = re.compile(
    r"eval Eq\(s\d+, -?\d+\) \[guard added\] (?P<code>.*?)\s*#\s*(?P<file>\S+):(?P<line>\d+)"
    r" in (?P<fn>\w+)"
)


def specialised_at(logged: list[str], files: tuple[str, ...]) -> SourceLocation | None:
    """The user line of the first guard that made a size symbol a constant, from the
    symbolic-shapes log: where torch's constraint violation has no "User stack" (2.6)."""
    for message in logged:
        match = _CONSTANT_GUARD.search(message)
        location = user_location(match, files) if match else None
        if location is not None:
            return location
    return None


def run_sweep(
    target: Target,
    settings: CheckSettings,
    dims: tuple[DynamicDim, ...],
    points: tuple[Point, ...],
    *,
    mark_dynamic: bool = False,
    dynamic: bool = False,
    bucket: bool = False,
    files: tuple[str, ...] = (),
    names: dict[str, str] | None = None,
) -> Sweep:
    import torch._dynamo

    torch._dynamo.reset()
    log = compile_log()
    module = prepare_module(target, settings)
    recorder = _SymbolRecorder(settings.backend)
    compiled = target.compile(module, backend=recorder, fullgraph=False)
    example = target_inputs(target, settings)
    sweep = Sweep()
    names = names or {}
    # dynamic=True is torch.compile's switch for this config entry, applied at call time
    config = torch._dynamo.config.patch(assume_static_by_default=False) if dynamic else None
    # torch logs a constraint violation at ERROR before raising it; the result records it.
    quiet = loggers_at(logging.CRITICAL, "torch._guards")
    with config or contextlib.nullcontext(), quiet:
        for n, point in enumerate(points, start=1):
            inputs = inputs_at(example, dims, point, bucket=bucket)
            if mark_dynamic:
                for d in dims:
                    torch._dynamo.mark_dynamic(inputs[d.input], d.dim)
            mark = len(log.ids)
            graphs_before = len(recorder.graphs)
            marks = guard_failure_marks()
            error: str | None = None
            logged: contextlib.AbstractContextManager[list[str]] = (
                shape_guards_logged() if mark_dynamic else contextlib.nullcontext([])
            )
            with logged as shape_guards:
                try:
                    compiled(*inputs)
                except Exception as exc:  # recorded per call; the sweep goes on
                    sweep.errors.append(exc)
                    sweep.error_sites.append(
                        error_location(exc, files) or specialised_at(shape_guards, files)
                    )
                    error = f"{type(exc).__name__}: {first_line(exc)}"
            ids = log.since(mark)
            sweep.ids.extend(ids)
            new_graphs = recorder.graphs[graphs_before:]
            sweep.graphs.extend((n, g) for g in new_graphs)
            failures = _latest_failures(guard_failures_since(marks), files)
            dynamic_dims = tuple(
                dict.fromkeys(
                    f"{names.get(source, source)} dim {i}"
                    for g in new_graphs
                    for (source, i), how in g.items()
                    if how is Size.SYMBOL
                )
            )
            sweep.calls.append(
                ShapeCall(
                    call=n,
                    sizes=point.sizes,
                    compiles=len(ids),
                    dynamic=dynamic_dims,
                    guard_failures=failures,
                    error=error,
                )
            )
    return sweep
