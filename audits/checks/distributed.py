"""The distributed check, one rank's part: the target wrapped in DDP or FSDP2, compiled.

Runs inside a rank that audits.distributed.rank started under torch.distributed.run,
with the process group already up. Every rank builds the same module (the target's
seed) and feeds it its own inputs (the seed plus its rank). The eager reference is
the unwrapped module: its output on this rank's inputs, and the mean of its gradients
over every rank's inputs, which is what DDP's all-reduce and FSDP2's reduce-scatter
average to. Each rank computes that mean alone, so the reference needs no collective.

Graphs are counted twice: those dynamo captured, and those the backend compiled.
With torch.compile inside DDP, DDPOptimizer splits each captured graph at DDP's bucket
boundaries and compiles each piece apart, so that the all-reduce of one bucket can
overlap the backward of the next; it logs how many buckets it made.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from audits.checks.breaks import GraphRecorder, break_reason_mark, breaks_since
from audits.checks.common import (
    CheckSettings,
    clear_grads,
    clone_module,
    compile_log,
    describe_guard,
    guard_failure_marks,
    guard_failures_since,
    max_frame_compiles,
    prepare_module,
    set_mode,
    target_inputs,
    to_double,
)
from audits.checks.parity import (
    FP64_MAX_PARAMS,
    TOLERANCES,
    Run,
    call_outputs,
    compare_runs,
    unmatched,
    worst_diff,
)
from audits.checks.torch_logs import captured_logs
from audits.targets import DistributedSpec, Inputs, Target
from reporting.schema.basics import TensorDiff
from reporting.schema.distributed import CompileOrder, RankResult, Wrapper
from reporting.schema.vocabulary import Task

# DDPOptimizer reports its buckets on this logger at INFO, once per graph it splits.
_DDP_OPTIMIZER_LOGGER = "torch._dynamo.backends.distributed"
_BUCKETS_MESSAGE = "DDPOptimizer used bucket cap"


def fully_shard_or_none() -> Callable[..., Any] | None:
    """FSDP2's `fully_shard`, or None where this torch has none (before 2.6)."""
    try:
        from torch.distributed.fsdp import fully_shard
    except ImportError:
        return None
    return fully_shard  # type: ignore[no-any-return]


def fsdp2_missing_reason() -> str | None:
    """Why FSDP2 cannot run here, or None when it can."""
    if fully_shard_or_none() is None:
        return (
            f"torch {torch.__version__} has no torch.distributed.fsdp.fully_shard "
            "(FSDP2 is public from torch 2.6)"
        )
    return None


@contextlib.contextmanager
def bucket_log() -> Iterator[list[int]]:
    """The bucket counts DDPOptimizer logs while the block runs; torch's logger restored.

    Its line also reaches the rank's log, where it helps.
    """
    buckets: list[int] = []
    with captured_logs(_DDP_OPTIMIZER_LOGGER, level=logging.INFO, quiet=False) as records:
        yield buckets
    for record in records:
        args = record.args
        if _BUCKETS_MESSAGE in str(record.msg) and isinstance(args, tuple) and len(args) >= 2:
            if isinstance(args[1], int):
                buckets.append(args[1])


class _CompiledCallable(nn.Module):
    """A compiled callable that is not a module (esper's compile_with_validation), as one,
    so that the wrapper finds the parameters of the module it compiled."""

    def __init__(self, module: nn.Module, compiled: Callable[..., Any]) -> None:
        super().__init__()
        self.module = module
        self.compiled = compiled

    def forward(self, *args: Any) -> Any:
        return self.compiled(*args)


def wrap(module: nn.Module, spec: DistributedSpec) -> nn.Module:
    """`module` in DDP (with the spec's bucket cap) or FSDP2's fully_shard."""
    if spec.wrapper is Wrapper.DDP:
        from torch.nn.parallel import DistributedDataParallel

        if spec.bucket_cap_mb is None:
            return DistributedDataParallel(module)
        return DistributedDataParallel(module, bucket_cap_mb=spec.bucket_cap_mb)
    fully_shard = fully_shard_or_none()
    if fully_shard is None:
        raise RuntimeError(fsdp2_missing_reason())
    return fully_shard(module)  # type: ignore[no-any-return]  # the module, its class swapped


def wrapped_and_compiled(
    target: Target, module: nn.Module, spec: DistributedSpec, backend: GraphRecorder
) -> Callable[..., Any]:
    if spec.order is CompileOrder.WRAP_THEN_COMPILE:
        return target.compile(wrap(module, spec), backend=backend, fullgraph=False)
    compiled = target.compile(module, backend=backend, fullgraph=False)
    as_module = compiled if isinstance(compiled, nn.Module) else _CompiledCallable(module, compiled)
    return wrap(as_module, spec)


def rank_inputs(target: Target, settings: CheckSettings, rank: int) -> Inputs:
    """The inputs of `rank`: the target's inputs under its seed shifted by the rank."""
    return target_inputs(replace(target, seed=target.seed + rank), settings)


def _full(grad: torch.Tensor) -> torch.Tensor:
    """A gradient as a plain tensor; FSDP2 leaves each rank a shard of a DTensor."""
    full_tensor = getattr(grad, "full_tensor", None)
    return full_tensor() if callable(full_tensor) else grad


def _param_grads(module: nn.Module) -> dict[str, torch.Tensor | None]:
    return {
        f"grad:{name}": None if p.grad is None else _full(p.grad).detach().clone()
        for name, p in module.named_parameters()
        if p.requires_grad
    }


def _eager_reference(
    target: Target, settings: CheckSettings, rank: int, world_size: int, *, fp64: bool = False
) -> Run:
    """The unwrapped module in eager on every rank's inputs, in fp64 when asked: its outputs
    on this rank's inputs, its gradients averaged over every rank's."""
    reference = prepare_module(target, settings)
    set_mode(reference, Task.TRAIN)
    outputs: list[torch.Tensor] = []
    summed: dict[str, torch.Tensor | None] = {}
    for other in range(world_size):
        inputs = rank_inputs(target, settings, other)
        twin, inputs = to_double(reference, inputs) if fp64 else (clone_module(reference), inputs)
        got = call_outputs(twin, inputs)
        if other == rank:
            outputs = got
        for name, grad in _param_grads(twin).items():
            before = summed.get(name)
            summed[name] = grad if before is None else (before if grad is None else before + grad)
    return Run(outputs, {k: None if g is None else g / world_size for k, g in summed.items()})


def _fp64_reference(
    target: Target, settings: CheckSettings, rank: int, world_size: int
) -> Run | None:
    """As the parity check does: where fp64 is cheap, a difference passes when the wrapped
    run is no further from fp64 than eager is (kernels may reorder a reduction)."""
    if settings.dtype != torch.float32:
        return None
    if sum(p.numel() for p in target.fresh_module().parameters()) > FP64_MAX_PARAMS:
        return None
    try:
        return _eager_reference(target, settings, rank, world_size, fp64=True)
    except (RuntimeError, TypeError, NotImplementedError):
        return None  # a module that cannot run in fp64 is compared on tolerance alone


def _compare(
    got: Run, want: Run, fp64: Run | None, tol: tuple[float, float]
) -> tuple[TensorDiff, TensorDiff | None, int, tuple[str, ...]]:
    if len(got.outputs) != len(want.outputs) or not want.outputs:
        why = f"output (wrapped gave {len(got.outputs)} tensors, eager {len(want.outputs)})"
        return unmatched(why, tol), None, 0, ()
    outputs, grads, presence = compare_runs(got, want, fp64, tol)
    output = worst_diff(outputs)
    assert output is not None  # want.outputs is not empty
    return output, worst_diff(grads), len(grads), presence


def check_rank(target: Target, settings: CheckSettings, rank: int, world_size: int) -> RankResult:
    """Compile the wrapped target on this rank, call it `steady_calls` times, compare.

    Train mode only: gradients are what the wrapper synchronises. An exception escapes:
    the rank dies with it, so that the launcher stops the others at once instead of
    leaving them waiting in a collective.
    """
    spec = target.distributed
    if spec is None:
        raise ValueError(f"target {target.name!r} is not distributed (its distributed is None)")
    want = _eager_reference(target, settings, rank, world_size)
    fp64 = _fp64_reference(target, settings, rank, world_size)

    module = prepare_module(target, settings)
    set_mode(module, Task.TRAIN)
    counter = GraphRecorder(settings.backend)
    compiled = wrapped_and_compiled(target, module, spec, counter)
    inputs = rank_inputs(target, settings, rank)
    log = compile_log()
    mark, guards = len(log.ids), guard_failure_marks()
    breaks_mark = break_reason_mark()
    from torch._dynamo.utils import counters

    graphs_before = counters["stats"]["unique_graphs"]
    with bucket_log() as buckets:
        start = time.perf_counter()
        got_outputs = call_outputs(compiled, inputs)
        first_call_s = time.perf_counter() - start
    dynamo_graphs = counters["stats"]["unique_graphs"] - graphs_before
    compiled_graphs = len(counter.ops_per_graph)
    break_count, breaks = breaks_since(breaks_mark)
    got = Run(got_outputs, _param_grads(module))
    for _ in range(target.steady_calls - 1):
        clear_grads(module)
        call_outputs(compiled, inputs)
    ids = log.since(mark)
    output, worst_grad, compared, presence = _compare(got, want, fp64, TOLERANCES[settings.dtype])
    max_frame = max_frame_compiles(ids)
    passed = (
        output.passed
        and (worst_grad is None or worst_grad.passed)
        and not presence
        and compiled_graphs >= spec.min_graphs
        and max_frame <= target.recompile_budget
    )
    return RankResult(
        rank=rank,
        dynamo_graphs=dynamo_graphs,
        compiled_graphs=compiled_graphs,
        buckets=tuple(buckets),
        ops_per_graph=tuple(counter.ops_per_graph),
        break_count=break_count,
        breaks=breaks,
        calls=target.steady_calls,
        total_compiles=len(ids),
        max_frame_compiles=max_frame,
        guard_failures=tuple(describe_guard(r) for r in guard_failures_since(guards)),
        output=output,
        worst_grad=worst_grad,
        grads_compared=compared,
        grad_presence_mismatch=presence,
        first_call_s=first_call_s,
        passed=passed,
    )
