"""Options of a benchmark workload (the levers), each chosen once per build.

A lever changes how the same work runs, never how much of it is counted: a padded
vocabulary adds logits nobody asked for, so FLOPs are always counted on an unpadded build
(the yardstick is pinned to the 50257-token vocabulary). Global torch settings a lever
needs (TF32, the SDPA backend) are entered around each step call and restored after it,
so no candidate of an interleaved group leaks its setting into the next one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from reporting.schema.benchmark_settings import OptimizerStep, SdpaKernel, WorkloadOptions
from reporting.schema.vocabulary import CompileMode

VOCAB_MULTIPLE = 64  # tensor-core tiles and vectorized CPU kernels like multiples of 64


def padded_vocab(vocab_size: int, multiple: int = VOCAB_MULTIPLE) -> int:
    """The smallest multiple of ``multiple`` that holds ``vocab_size`` tokens."""
    if vocab_size < 1 or multiple < 1:
        raise ValueError(f"need positive sizes, got vocab_size={vocab_size}, multiple={multiple}")
    return -(-vocab_size // multiple) * multiple


def optimizer_step(
    parameters: list[torch.nn.Parameter], choice: OptimizerStep, mode: CompileMode, backend: str
) -> Callable[[], Any]:
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


def with_levers(
    step: Callable[[], Any], options: WorkloadOptions, device: torch.device
) -> Callable[[], Any]:
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
