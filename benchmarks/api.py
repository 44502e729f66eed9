"""benchmark_module: eager vs compiled for any module, the entry point the audit calls.

The audit hands over a module factory and example inputs (its targets' simple form); this
returns one BenchmarkResult measured the same way as the built-in workloads, through the
same path (benchmarks.runner): interleaved rounds, paired bootstrap CI, compile time with
a cold and a warm cache, peak memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
from torch.utils._pytree import tree_flatten, tree_map

from benchmarks.runner import measure_workloads
from benchmarks.steps import OutputLoss, Workload
from foundation.environment import cpu_model
from foundation.scoped import scoped_num_threads
from reporting.schema.benchmark import BenchmarkResult
from reporting.schema.benchmark_settings import MeasureConfig, WorkloadOptions
from reporting.schema.vocabulary import Task


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
    args = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    if items_per_call is None:
        leaves, _ = tree_flatten(list(args))
        batched = [x for x in leaves if isinstance(x, torch.Tensor) and x.dim() > 0]
        items_per_call = int(batched[0].shape[0]) if batched else 1
    if items_per_call < 1:
        raise ValueError(f"items_per_call must be >= 1, got {items_per_call}")

    def parts(device: torch.device, _options: WorkloadOptions) -> tuple[nn.Module, Any]:
        module = module_factory().to(device)
        if task is Task.TRAIN and not any(p.requires_grad for p in module.parameters()):
            raise ValueError(
                f"{type(module).__name__} has no trainable parameters for a training step"
            )
        inputs = tree_map(lambda v: v.to(device) if isinstance(v, torch.Tensor) else v, args)
        return (OutputLoss(module) if task is Task.TRAIN else module), inputs

    label = name or str(getattr(module_factory, "__qualname__", "module"))
    workload = Workload(
        name=label,
        group=label,
        task=task,
        variant=None,
        unit="samples/s",
        items_per_call=items_per_call,
        parts=parts,
    )
    with scoped_num_threads(config.threads):
        device_name = torch.cuda.get_device_name() if config.device == "cuda" else cpu_model()
        (result,), _ = measure_workloads([workload], config, device_name)
    return result
