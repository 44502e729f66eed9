"""Options of a benchmark workload: the levers of issue 11, each chosen once per build.

A lever changes how the same work runs, never how much of it is counted: a padded
vocabulary adds logits nobody asked for, so FLOPs are always counted on an unpadded build
(the yardstick is pinned to the 50257-token vocabulary). Global torch settings a lever
needs (TF32, the SDPA backend) are entered around each step call and restored after it,
so no candidate of an interleaved group leaks its setting into the next one.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

VOCAB_MULTIPLE = 64  # tensor-core tiles and vectorized CPU kernels like multiples of 64


class OptimizerStep(enum.Enum):
    FOREACH = "foreach"  # torch's default AdamW: multi-tensor kernels, run eagerly
    FUSED = "fused"  # AdamW(fused=True): one fused kernel per parameter group
    COMPILED = "compiled"  # optimizer.step() inside torch.compile (compiled candidates only)


class SdpaKernel(enum.Enum):
    """Which scaled_dot_product_attention backends may run; AUTO lets torch choose."""

    AUTO = "auto"
    FLASH = "flash"
    EFFICIENT = "efficient"
    MATH = "math"
    CUDNN = "cudnn"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadOptions:
    """Levers applied to a workload's build; the defaults are the plain workload."""

    pad_vocab: bool = False  # vocabulary rounded up to a multiple of 64 (transformers only)
    optimizer: OptimizerStep = OptimizerStep.FOREACH
    tf32: bool = False  # fp32 matmuls on TF32 tensor cores (CUDA only)
    pure_bf16: bool = False  # parameters stored in bf16, beside whatever autocast does
    sdpa: SdpaKernel = SdpaKernel.AUTO
    freezing: bool = False  # inductor freezing: weights become constants (inference graphs)
    weight_prepack: bool = True  # with freezing on CPU: weights repacked for oneDNN/mkl

    def __post_init__(self) -> None:
        if not self.weight_prepack and not self.freezing:
            raise ValueError("weight_prepack=False only means something with freezing=True")

    def not_applicable(self, device: str) -> str | None:
        """Why these options cannot run on ``device``, or None when they can."""
        if device == "cuda":
            return None
        if self.tf32:
            return f"TF32 is a CUDA tensor-core mode: not applicable on {device}"
        if self.sdpa in (SdpaKernel.FLASH, SdpaKernel.EFFICIENT, SdpaKernel.CUDNN):
            return f"SDPA backend {self.sdpa.value} is CUDA-only: not applicable on {device}"
        return None

    def inductor_options(self) -> dict[str, Any]:
        """Inductor config entries for torch.compile(options=...), which torch scopes itself."""
        if not self.freezing:
            return {}
        return {"freezing": True, "cpp.weight_prepack": self.weight_prepack}

    @property
    def label(self) -> str:
        """The levers that differ from the defaults, e.g. 'pad-vocab+fused'; 'plain' if none."""
        parts = []
        if self.pad_vocab:
            parts.append("pad-vocab")
        if self.optimizer is not OptimizerStep.FOREACH:
            parts.append(f"{self.optimizer.value}-optimizer")
        if self.tf32:
            parts.append("tf32")
        if self.pure_bf16:
            parts.append("pure-bf16")
        if self.sdpa is not SdpaKernel.AUTO:
            parts.append(f"sdpa-{self.sdpa.value}")
        if self.freezing:
            parts.append("freezing" if self.weight_prepack else "freezing-no-prepack")
        return "+".join(parts) or "plain"


def padded_vocab(vocab_size: int, multiple: int = VOCAB_MULTIPLE) -> int:
    """The smallest multiple of ``multiple`` that holds ``vocab_size`` tokens."""
    if vocab_size < 1 or multiple < 1:
        raise ValueError(f"need positive sizes, got vocab_size={vocab_size}, multiple={multiple}")
    return -(-vocab_size // multiple) * multiple


def make_optimizer(
    parameters: list[torch.nn.Parameter], step: OptimizerStep
) -> torch.optim.Optimizer:
    """AdamW as the lever asks: foreach (torch's default) or fused; compiling is the caller's."""
    if step is OptimizerStep.FUSED:
        return torch.optim.AdamW(parameters, lr=1e-4, fused=True)
    # foreach=None lets torch pick, as a user's plain AdamW would; it is foreach on CUDA.
    return torch.optim.AdamW(parameters, lr=1e-4)


_SDPA_BACKENDS = {
    SdpaKernel.FLASH: "FLASH_ATTENTION",
    SdpaKernel.EFFICIENT: "EFFICIENT_ATTENTION",
    SdpaKernel.MATH: "MATH",
    SdpaKernel.CUDNN: "CUDNN_ATTENTION",
}


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
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(precision)
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn
