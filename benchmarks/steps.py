"""A workload: one step to measure, built afresh for every candidate that times it.

The built-in host workloads (benchmarks.workloads) and any module handed to
``benchmark_module`` are both a :class:`Workload`, so one path builds and measures them.
What is compiled is the module's forward (with the loss, for a training step). The
optimizer step runs eagerly in both modes, as in nanoGPT's train.py, so the comparison is
the one a user makes when wrapping a model in torch.compile; the optimizer lever
(benchmarks.levers) can fuse it or compile it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch.utils._pytree import tree_flatten, tree_map

from benchmarks.levers import optimizer_step, with_levers
from benchmarks.modes import autocast_context, compile_module, make_runner
from reporting.schema.benchmark_settings import MeasureConfig, WorkloadOptions
from reporting.schema.vocabulary import CompileMode, Task

Step = Callable[[], Any]
# The module a step runs (with its loss, for a training step) and its inputs, on a device.
Parts = Callable[[torch.device, WorkloadOptions], tuple[nn.Module, tuple[Any, ...]]]


def output_loss(output: Any) -> torch.Tensor:
    """A scalar that depends on every floating-point output: the sum of their means."""
    leaves, _ = tree_flatten(output)
    floats = [
        x.float().mean() for x in leaves if isinstance(x, torch.Tensor) and x.is_floating_point()
    ]
    if not floats:
        raise ValueError("a training step needs a floating-point tensor output to form a loss")
    return torch.stack(floats).sum()


class OutputLoss(nn.Module):
    """A module with no loss of its own, trained on the simplest loss reaching every output."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args: Any) -> torch.Tensor:
        return output_loss(self.module(*args))


def _bf16_floats(value: Any) -> Any:
    """Float inputs follow bf16 weights; token ids stay integers."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(torch.bfloat16)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """One step to measure: what its results are called and counted in, and how it is built."""

    name: str
    group: str  # workloads of one group are measured interleaved with each other
    task: Task
    variant: str | None  # the host's seed variant; None for a module of benchmark_module
    unit: str  # throughput unit: images/s, tokens/s or samples/s
    items_per_call: int
    parts: Parts  # called once per build, so every build starts from fresh weights
    optimize: bool = True  # False: forward and backward only (the seed alone)
    detect_attention: bool = False  # record which SDPA kernel one call runs

    def build(
        self, device: torch.device, options: WorkloadOptions, seed: int
    ) -> tuple[nn.Module, tuple[Any, ...]]:
        """The parts from seeded weights; under pure bf16, parameters and float inputs in bf16
        (autocast, if on, still applies)."""
        torch.manual_seed(seed)
        module, inputs = self.parts(device, options)
        if options.pure_bf16:
            return module.to(torch.bfloat16), tree_map(_bf16_floats, inputs)
        return module, inputs

    def step(
        self, mode: CompileMode, config: MeasureConfig, options: WorkloadOptions | None = None
    ) -> Step:
        """A fresh step in ``mode`` with the levers ``options`` (default: the config's); a
        compiled step compiles on its first call."""
        options = config.options if options is None else options
        device = torch.device(config.device)
        module, inputs = self.build(device, options, config.seed)
        training = self.task is Task.TRAIN
        forward = compile_module(
            module.train(training),
            mode,
            backend=config.backend,
            fullgraph=config.fullgraph,
            inductor_options=options.inductor_options() if mode.compiled else None,
        )
        precision = config.precision
        if not training:

            def inference_step() -> Any:
                with torch.no_grad(), autocast_context(precision, device):
                    return forward(*inputs)

            return with_levers(
                make_runner(inference_step, mode, keep_output=False), options, device
            )
        parameters = [p for p in module.parameters() if p.requires_grad]
        update = (
            optimizer_step(parameters, options.optimizer, mode, config.backend)
            if self.optimize
            else lambda: None
        )

        def train_step() -> torch.Tensor:
            for parameter in parameters:  # zero_grad(set_to_none=True), whatever the optimizer
                parameter.grad = None
            with autocast_context(precision, device):
                loss = forward(*inputs)
            loss.backward()
            update()
            return loss.detach()

        # A training loop keeps the loss (to log it), so reduce-overhead must clone it.
        return with_levers(make_runner(train_step, mode, keep_output=True), options, device)
