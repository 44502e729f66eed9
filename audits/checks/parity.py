"""Check 4: do compiled outputs and gradients equal eager ones?

Compiled and eager start from the same state (a deep copy taken just before
the comparison) and get the same inputs and the same upstream gradient. A
difference passes when it is within the dtype's tolerance, or, where an fp64
reference is cheap, when compiled is no further from fp64 than eager is:
kernels that reorder a reduction are allowed to be as wrong as eager, no more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from audits.checks.common import (
    backpropagate,
    clear_grads,
    clone_module,
    named_grads,
    output_tensors,
    set_mode,
    to_double,
)
from audits.graph_breaks import first_line
from audits.targets import Inputs
from reporting.schema.audit import CheckStatus, ModeParity, ParityResult, TensorDiff
from reporting.schema.vocabulary import Precision, Task

# (atol, rtol) by dtype; fp32's atol 1e-5 on outputs is esper's compile contract.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float32: (1e-5, 1e-4),
    torch.bfloat16: (1e-2, 1.6e-2),
    torch.float16: (1e-3, 1e-3),
}
# An fp64 reference is "cheap" below this many parameters.
FP64_MAX_PARAMS = 20_000_000


@dataclass(frozen=True, slots=True)
class Run:
    """One call and its backward: the output tensors, and the gradients by name."""

    outputs: list[torch.Tensor]
    grads: dict[str, torch.Tensor | None]


def call_outputs(fn: Callable[..., Any], inputs: Inputs) -> list[torch.Tensor]:
    """Call `fn`, back-propagate its outputs' scalar loss, and return them detached."""
    out = fn(*inputs)
    backpropagate(out)
    return [t.detach() for t in output_tensors(out)]


def _run(fn: Callable[..., Any], owner: nn.Module, inputs: Inputs, seed: int) -> Run:
    torch.manual_seed(seed)  # same dropout mask where the backend honours the RNG
    return Run(outputs=call_outputs(fn, inputs), grads=dict(named_grads(owner, inputs)))


def _max_errors(actual: torch.Tensor, expected: torch.Tensor, atol: float) -> tuple[float, float]:
    if actual.shape != expected.shape:
        return float("inf"), float("inf")
    if not (actual.is_floating_point() or actual.is_complex()):
        wrong = bool((actual != expected).any())
        return (float("inf"), float("inf")) if wrong else (0.0, 0.0)
    a, e = actual.double(), expected.double()
    diff = (a - e).abs()
    if diff.numel() == 0:
        return 0.0, 0.0
    max_abs = float(diff.max())
    # Relative error only where the reference is clear of the absolute tolerance.
    scale = e.abs()
    significant = scale > atol
    max_rel = float((diff[significant] / scale[significant]).max()) if significant.any() else 0.0
    return max_abs, max_rel


def tensor_diff(
    name: str,
    actual: torch.Tensor,
    expected: torch.Tensor,
    tol: tuple[float, float],
    reference: torch.Tensor | None,
) -> TensorDiff:
    """`actual` against `expected` within `tol` (atol, rtol), or no further from the fp64
    `reference` than eager is, where there is one."""
    atol, rtol = tol
    max_abs, max_rel = _max_errors(actual, expected, atol)
    passed = actual.shape == expected.shape and bool(
        torch.allclose(actual.double(), expected.double(), atol=atol, rtol=rtol, equal_nan=True)
    )
    if not passed and reference is not None and actual.shape == reference.shape:
        compiled_err, _ = _max_errors(actual, reference, atol)
        eager_err, _ = _max_errors(expected, reference, atol)
        passed = compiled_err <= max(atol, 2.0 * eager_err)
    return TensorDiff(
        name=name, max_abs=max_abs, max_rel=max_rel, atol=atol, rtol=rtol, passed=passed
    )


def precision_of(dtype: torch.dtype) -> Precision:
    return Precision.BF16 if dtype == torch.bfloat16 else Precision.FP32


def worst_diff(diffs: list[TensorDiff]) -> TensorDiff | None:
    """The failing difference with the largest error, else the largest; None for none."""
    if not diffs:
        return None
    failing = [d for d in diffs if not d.passed]
    return max(failing or diffs, key=lambda d: (d.max_abs, d.max_rel))


def unmatched(why: str, tol: tuple[float, float]) -> TensorDiff:
    """Outputs that could not be compared at all: an infinite error named `why`."""
    inf = float("inf")
    return TensorDiff(name=why, max_abs=inf, max_rel=inf, atol=tol[0], rtol=tol[1], passed=False)


def compare_runs(
    got: Run, want: Run, reference: Run | None, tol: tuple[float, float]
) -> tuple[list[TensorDiff], list[TensorDiff], tuple[str, ...]]:
    """The output and gradient diffs of `got` against `want`, each also measured against the
    fp64 `reference` where there is one, and the gradients only one of the two has."""

    def ref(items: list[torch.Tensor], i: int) -> torch.Tensor | None:
        return items[i] if i < len(items) else None

    outputs = [
        tensor_diff(
            "output" if len(want.outputs) == 1 else f"output[{i}]",
            g,
            w,
            tol,
            None if reference is None else ref(reference.outputs, i),
        )
        for i, (g, w) in enumerate(zip(got.outputs, want.outputs, strict=True))
    ]
    grads: list[TensorDiff] = []
    presence: list[str] = []
    for name, expected in want.grads.items():
        actual = got.grads.get(name)
        if (expected is None) != (actual is None):
            presence.append(name)
        elif expected is not None and actual is not None:
            reference_grad = None if reference is None else reference.grads.get(name)
            grads.append(tensor_diff(name, actual, expected, tol, reference_grad))
    return outputs, grads, tuple(presence)


def _failed_mode(mode: Task, dtype: torch.dtype, tol: tuple[float, float], why: str) -> ModeParity:
    """A mode whose outputs could not be compared at all: an infinite error named `why`."""
    return ModeParity(
        mode=mode, dtype=precision_of(dtype), output=unmatched(why, tol), passed=False
    )


def _compare_mode(
    module: nn.Module,
    compiled: Callable[..., Any],
    make_inputs: Callable[[], Inputs],
    mode: Task,
    dtype: torch.dtype,
) -> ModeParity:
    set_mode(module, mode)
    clear_grads(module)
    eager = clone_module(module)
    reference: Run | None = None
    skipped: str | None = None
    n_params = sum(p.numel() for p in module.parameters())
    if dtype != torch.float32:
        skipped = f"fp64 reference only for float32 runs, this one is {dtype}"
    elif n_params > FP64_MAX_PARAMS:
        skipped = f"{n_params} parameters: above the {FP64_MAX_PARAMS} cheap-reference limit"
    else:
        double, double_inputs = to_double(module, make_inputs())
        try:
            reference = _run(double, double, double_inputs, seed=0)
        except (RuntimeError, TypeError, NotImplementedError) as exc:
            skipped = f"fp64 forward failed: {type(exc).__name__}: {exc}".splitlines()[0]
    want = _run(eager, eager, make_inputs(), seed=0)
    tol = TOLERANCES[dtype]
    try:
        got = _run(compiled, module, make_inputs(), seed=0)
    except Exception as exc:  # e.g. a recompile refused under fullgraph: a parity failure
        return _failed_mode(
            mode, dtype, tol, f"compiled call raised {type(exc).__name__}: {first_line(exc)}"
        )

    if len(got.outputs) != len(want.outputs):
        why = f"output (compiled gave {len(got.outputs)} tensors, eager {len(want.outputs)})"
        return _failed_mode(mode, dtype, tol, why)
    output_diffs, grad_diffs, presence = compare_runs(got, want, reference, tol)
    fp64_eager = fp64_compiled = None
    if reference and reference.outputs and want.outputs and got.outputs:
        fp64_eager, _ = _max_errors(want.outputs[0], reference.outputs[0], tol[0])
        fp64_compiled, _ = _max_errors(got.outputs[0], reference.outputs[0], tol[0])
    output = worst_diff(output_diffs)
    if output is None:
        raise ValueError("parity needs a module that returns at least one tensor; it returned none")
    worst_grad = worst_diff(grad_diffs)
    passed = all(d.passed for d in output_diffs + grad_diffs) and not presence
    return ModeParity(
        mode=mode,
        dtype=precision_of(dtype),
        output=output,
        worst_grad=worst_grad,
        grads_compared=len(grad_diffs),
        grad_presence_mismatch=presence,
        fp64_eager_max_abs=fp64_eager,
        fp64_compiled_max_abs=fp64_compiled,
        fp64_skipped=skipped,
        passed=passed,
    )


def describe_mismatch(
    module: nn.Module,
    compiled: Callable[..., Any],
    make_inputs: Callable[[], Inputs],
    mode: Task,
    dtype: torch.dtype,
) -> str | None:
    """None when compiled matches eager in `mode` now, else the worst difference in a line."""
    result = _compare_mode(module, compiled, make_inputs, mode, dtype)
    if result.passed:
        return None
    if result.grad_presence_mismatch:
        return (
            f"gradient present in only one of eager/compiled: {list(result.grad_presence_mismatch)}"
        )
    worst = result.output if not result.output.passed else result.worst_grad
    assert worst is not None  # a failed comparison has a failing diff
    return f"{worst.name}: max abs err {worst.max_abs:.2e} (atol {worst.atol:.0e})"


def check_parity(
    module: nn.Module,
    compiled: Callable[..., Any],
    make_inputs: Callable[[], Inputs],
    modes: tuple[Task, ...],
    dtype: torch.dtype,
) -> ParityResult:
    """Compare compiled and eager outputs and gradients in each mode, in place on `module`."""
    results = tuple(_compare_mode(module, compiled, make_inputs, m, dtype) for m in modes)
    status = CheckStatus.PASSED if all(r.passed for r in results) else CheckStatus.FAILED
    return ParityResult(status=status, modes=results)
