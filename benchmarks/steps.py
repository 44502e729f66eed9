"""How a step is built and run: its workload, its compile mode, its precision and its levers.

A :class:`Workload` is one step to measure, built afresh for every candidate that times
it; the built-in host workloads (benchmarks.workloads) and any module handed to
``benchmark_module`` are both one, so one path builds and measures them. What is compiled
is the module's forward (with the loss, for a training step). The optimizer step runs
eagerly in both modes, as in nanoGPT's train.py, so the comparison is the one a user makes
when wrapping a model in torch.compile; the optimizer lever can fuse it or compile it too.

Every choice is made once, when a step is built, never per call. reduce-overhead captures
CUDA graphs, whose outputs live in memory the next replay overwrites: each step therefore
begins with torch.compiler.cudagraph_mark_step_begin(), and any output the caller keeps is
cloned out of the graph's pool.

A lever changes how the same work runs, never how much of it is counted: a padded
vocabulary adds logits nobody asked for, so FLOPs are always counted on an unpadded build
(the yardstick is pinned to the 50257-token vocabulary). Global torch settings a lever
needs (TF32, the SDPA backend) are entered around each step call and restored after it,
so no candidate of an interleaved group leaks its setting into the next one.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch.utils._pytree import tree_flatten, tree_map, tree_map_only

from reporting.schema.benchmark_settings import (
    MeasureConfig,
    OptimizerStep,
    SdpaKernel,
    WorkloadOptions,
)
from reporting.schema.vocabulary import CompileMode, Precision, Task

Step = Callable[[], Any]
# The module a step runs (with its loss, for a training step) and its inputs, on a device.
Parts = Callable[[torch.device, WorkloadOptions], tuple[nn.Module, tuple[Any, ...]]]


def autocast_context(
    precision: Precision, device: torch.device
) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on the device, or nothing for fp32."""
    if precision is Precision.BF16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@functools.cache
def _compile_accepts_isolate_recompiles() -> bool:
    return "isolate_recompiles" in inspect.signature(torch.compile).parameters


def compile_module(
    module: torch.nn.Module,
    mode: CompileMode,
    *,
    backend: str = "inductor",
    fullgraph: bool = False,
    inductor_options: Mapping[str, Any] | None = None,
) -> torch.nn.Module:
    """The module itself for eager; otherwise torch.compile(module) in ``mode``.

    ``inductor_options`` (freezing, say) go to torch.compile's ``options``, which torch
    applies as a config patch around this module's compilations only, so the process-wide
    inductor config is never changed. torch refuses ``mode`` and ``options`` together, so
    the mode's own options are merged underneath.

    Several compiled copies of the same class share dynamo's per-code-object cache, so
    one copy's guards are checked on another's calls and all of them count against one
    recompile limit. Where torch offers isolate_recompiles, each copy gets its own entries.
    """
    if not mode.compiled:
        return module
    kwargs: dict[str, Any] = {"backend": backend, "fullgraph": fullgraph}
    if backend != "inductor" and (mode is not CompileMode.DEFAULT or inductor_options):
        raise ValueError(
            f"mode {mode.value!r} with options {dict(inductor_options or {})} needs the "
            f"inductor backend, got backend={backend!r}"
        )
    if backend == "inductor" and inductor_options:
        from torch._inductor import list_mode_options

        kwargs["options"] = {**list_mode_options(mode.value), **inductor_options}
    elif backend == "inductor":
        kwargs["mode"] = mode.value
    if _compile_accepts_isolate_recompiles():
        kwargs["isolate_recompiles"] = True
    return torch.compile(module, **kwargs)  # type: ignore[return-value]


def make_runner(step: Step, mode: CompileMode, *, keep_output: bool) -> Step:
    """Wrap one step for ``mode``: CUDA-graph bookkeeping for reduce-overhead, else the step.

    ``keep_output`` says the caller holds on to what the step returns (a logged loss, say);
    under CUDA graphs that output must be cloned before the next replay overwrites it.
    """
    if mode is not CompileMode.REDUCE_OVERHEAD:
        return step

    def cudagraph_step() -> Any:
        torch.compiler.cudagraph_mark_step_begin()
        output = step()
        if not keep_output:
            return None
        return tree_map(lambda x: x.clone() if isinstance(x, torch.Tensor) else x, output)

    return cudagraph_step


VOCAB_MULTIPLE = 64  # tensor-core tiles and vectorized CPU kernels like multiples of 64


def padded_vocab(vocab_size: int, multiple: int = VOCAB_MULTIPLE) -> int:
    """The smallest multiple of ``multiple`` that holds ``vocab_size`` tokens."""
    if vocab_size < 1 or multiple < 1:
        raise ValueError(f"need positive sizes, got vocab_size={vocab_size}, multiple={multiple}")
    return -(-vocab_size // multiple) * multiple


def optimizer_step(
    parameters: list[torch.nn.Parameter], choice: OptimizerStep, mode: CompileMode, backend: str
) -> Step:
    """AdamW's step as the lever asks: foreach (torch's default), fused, or compiled; an
    eager candidate asked for a compiled step runs the default one, having no compiler."""
    # foreach=None lets torch pick, as a user's plain AdamW would; it is foreach on CUDA.
    fused = True if choice is OptimizerStep.FUSED else None
    optimizer = torch.optim.AdamW(parameters, lr=1e-4, fused=fused)
    if choice is OptimizerStep.COMPILED and mode.compiled:
        # torch's recipe for a compiled optimizer: the step in its own compiled function,
        # in the candidate's mode, so that under reduce-overhead it is graphed as well.
        kwargs: dict[str, Any] = {"backend": backend, "fullgraph": False}
        if backend == "inductor":
            kwargs["mode"] = mode.value
        return torch.compile(optimizer.step, **kwargs)
    return optimizer.step


_SDPA_BACKENDS = {
    SdpaKernel.FLASH: "FLASH_ATTENTION",
    SdpaKernel.EFFICIENT: "EFFICIENT_ATTENTION",
    SdpaKernel.MATH: "MATH",
    SdpaKernel.CUDNN: "CUDNN_ATTENTION",
}


def with_levers(step: Step, options: WorkloadOptions, device: torch.device) -> Step:
    """The step inside the levers' scoped settings, when a lever needs any."""
    if not (options.tf32 and device.type == "cuda") and options.sdpa is SdpaKernel.AUTO:
        return step

    def step_with_levers() -> Any:
        with scoped_levers(options, device):
            return step()

    return step_with_levers


@contextlib.contextmanager
def scoped_levers(options: WorkloadOptions, device: torch.device) -> Iterator[None]:
    """TF32 and the SDPA backend for one step call; both restored on exit."""
    with contextlib.ExitStack() as stack:
        if options.tf32 and device.type == "cuda":
            stack.enter_context(scoped_tf32())
        if options.sdpa is not SdpaKernel.AUTO:
            from torch.nn.attention import SDPBackend, sdpa_kernel

            backend = getattr(SDPBackend, _SDPA_BACKENDS[options.sdpa])
            stack.enter_context(sdpa_kernel([backend]))
        yield


@contextlib.contextmanager
def scoped_tf32() -> Iterator[None]:
    """fp32 matmuls and convolutions on TF32 tensor cores for the block, then as before."""
    precision = torch.get_float32_matmul_precision()
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("high")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(precision)
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn


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
        if not options.pure_bf16:
            return module, inputs
        # Float inputs follow the bf16 weights; token ids stay integers.
        to_bf16 = lambda t: t.to(torch.bfloat16) if t.is_floating_point() else t  # noqa: E731
        return module.to(torch.bfloat16), tree_map_only(torch.Tensor, to_bf16, inputs)

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
            module.train(training),  # eval() for an inference step
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
