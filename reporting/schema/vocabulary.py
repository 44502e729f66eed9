"""The words both tools record: what a step does, its precision, how it was compiled."""

from __future__ import annotations

import enum

import torch


class Task(enum.Enum):
    """What one call does: the audit checks and the benchmarks time the same two."""

    INFER = "infer"  # eval() mode; the benchmarks also run it under no_grad
    TRAIN = "train"  # train() mode, forward and backward (the benchmarks add the optimizer)


class Precision(enum.Enum):
    """Floating-point precision of a run.

    The audit casts modules and inputs to it; the benchmarks keep fp32 weights and run
    bf16 under autocast, the usual mixed-precision set-up.
    """

    FP32 = "fp32"
    BF16 = "bf16"

    @property
    def dtype(self) -> torch.dtype:
        return torch.bfloat16 if self is Precision.BF16 else torch.float32

    @classmethod
    def parse(cls, value: str) -> Precision:
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(p.value for p in cls)
            raise ValueError(f"unknown dtype {value!r}; valid: {valid}") from None


class CompileMode(enum.Enum):
    EAGER = "eager"
    DEFAULT = "default"
    REDUCE_OVERHEAD = "reduce-overhead"
    MAX_AUTOTUNE = "max-autotune"
    MAX_AUTOTUNE_NO_CUDAGRAPHS = "max-autotune-no-cudagraphs"

    @property
    def compiled(self) -> bool:
        return self is not CompileMode.EAGER

    @property
    def needs_cuda(self) -> bool:
        """reduce-overhead is CUDA graphs; on CPU inductor silently skips them."""
        return self is CompileMode.REDUCE_OVERHEAD

    @classmethod
    def parse(cls, value: str) -> CompileMode:
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(mode.value for mode in cls)
            raise ValueError(f"unknown mode {value!r}; valid: {valid}") from None
