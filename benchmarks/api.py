"""benchmark_module: eager vs compiled for any module, the entry point the audit calls.

The audit hands over a module factory and example inputs (its targets' simple form); this
returns one BenchmarkResult measured the same way as the built-in workloads: interleaved
rounds, paired bootstrap CI, compile time with a cold and a warm cache, peak memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn
from torch.utils._pytree import tree_flatten, tree_map

from benchmarks.assemble import build_result
from benchmarks.measure import Candidate, measure_group_candidates
from benchmarks.modes import autocast_context, compile_module, make_runner
from foundation.devices import usable_cpus
from foundation.environment import cpu_model
from foundation.scoped import scoped_num_threads
from reporting.schema.benchmark import BenchmarkResult
from reporting.schema.benchmark_settings import MeasureConfig
from reporting.schema.vocabulary import CompileMode, Task

Step = Callable[[], Any]


def _as_args(example_inputs: Any) -> tuple[Any, ...]:
    return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)


def _batch_size(args: Sequence[Any]) -> int:
    leaves, _ = tree_flatten(list(args))
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor) and leaf.dim() > 0:
            return int(leaf.shape[0])
    return 1


def output_loss(output: Any) -> torch.Tensor:
    """A scalar that depends on every floating-point output: the sum of their means."""
    leaves, _ = tree_flatten(output)
    floats = [
        leaf.float().mean()
        for leaf in leaves
        if isinstance(leaf, torch.Tensor) and leaf.is_floating_point()
    ]
    if not floats:
        raise ValueError("a training step needs a floating-point tensor output to form a loss")
    return torch.stack(floats).sum()


class _OutputLoss(nn.Module):
    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args: Any) -> torch.Tensor:
        return output_loss(self.module(*args))


def _builder(
    module_factory: Callable[[], nn.Module],
    args: tuple[Any, ...],
    task: Task,
    mode: CompileMode,
    config: MeasureConfig,
) -> Callable[[], Step]:
    device = torch.device(config.device)

    def build() -> Step:
        torch.manual_seed(config.seed)
        module = module_factory().to(device)
        inputs = tree_map(lambda v: v.to(device) if isinstance(v, torch.Tensor) else v, args)
        precision = config.precision
        if task is Task.INFER:
            module.eval()
            forward = compile_module(
                module, mode, backend=config.backend, fullgraph=config.fullgraph
            )

            def inference_step() -> Any:
                with torch.no_grad(), autocast_context(precision, device):
                    return forward(*inputs)

            return make_runner(inference_step, mode, keep_output=False)
        module.train()
        parameters = [p for p in module.parameters() if p.requires_grad]
        if not parameters:
            raise ValueError(
                f"{type(module).__name__} has no trainable parameters for a training step"
            )
        loss_fn = compile_module(
            _OutputLoss(module), mode, backend=config.backend, fullgraph=config.fullgraph
        )
        optimizer = torch.optim.AdamW(parameters, lr=1e-4)

        def train_step() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            with autocast_context(precision, device):
                loss = loss_fn(*inputs)
            loss.backward()
            optimizer.step()
            return loss.detach()

        return make_runner(train_step, mode, keep_output=True)

    return build


def benchmark_module(
    module_factory: Callable[[], nn.Module],
    example_inputs: Any,
    config: MeasureConfig | None = None,
    *,
    task: Task = Task.INFER,
    name: str | None = None,
    items_per_call: int | None = None,
) -> BenchmarkResult:
    """Eager against ``config.modes[0]`` for a module built by ``module_factory``.

    ``example_inputs`` is one tensor or a tuple of positional arguments. The factory is
    called once per build (eager, compiled, and for the cold and warm compiles), so it must
    return a fresh module each time. Throughput is counted in samples: the first
    dimension of the first tensor input, unless ``items_per_call`` says otherwise.
    Failures are recorded in the result's ``error``, not raised, except for bad arguments.
    """
    config = config or MeasureConfig()
    if len(config.modes) != 1:
        raise ValueError(
            f"benchmark_module compares eager with one compiled mode; got modes {config.modes}"
        )
    (mode,) = config.modes
    args = _as_args(example_inputs)
    items = items_per_call if items_per_call is not None else _batch_size(args)
    if items < 1:
        raise ValueError(f"items_per_call must be >= 1, got {items}")
    label = name or str(getattr(module_factory, "__qualname__", "module"))
    candidates = [
        Candidate(
            name=m.value,
            mode=m,
            build=_builder(module_factory, args, task, m, config),
            count_flops=not m.compiled,
        )
        for m in (CompileMode.EAGER, mode)
    ]
    with scoped_num_threads(config.threads or usable_cpus()):
        measured = measure_group_candidates(candidates, config)
        measurements = measured.candidates
        device_name = torch.cuda.get_device_name() if config.device == "cuda" else cpu_model()
    return build_result(
        name=label,
        group=label,
        task=task,
        variant=None,
        unit="samples/s",
        items_per_call=items,
        eager=measurements[CompileMode.EAGER.value],
        compiled=measurements[mode.value],
        config=config,
        device_name=device_name,
        rounds=measured.rounds,
    )
