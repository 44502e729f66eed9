"""The benchmarks' settings record, checked once when built and saved as is in the report.

MeasureConfig holds how to measure (rounds, modes, precision, what else to record) and is
all that ``benchmarks.benchmark_module`` needs; RunConfig adds what to measure and where
to write it, for ``python -m benchmarks.run``. WorkloadOptions are the levers applied to a
workload's build, each chosen once; a ladder's rungs are several compiled settings of one
workload measured against eager in one group.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from reporting.schema.vocabulary import CompileMode, Precision


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
        parts = (
            self.pad_vocab and "pad-vocab",
            self.optimizer is not OptimizerStep.FOREACH and f"{self.optimizer.value}-optimizer",
            self.tf32 and "tf32",
            self.pure_bf16 and "pure-bf16",
            self.sdpa is not SdpaKernel.AUTO and f"sdpa-{self.sdpa.value}",
            self.freezing and ("freezing" if self.weight_prepack else "freezing-no-prepack"),
        )
        return "+".join(part for part in parts if isinstance(part, str)) or "plain"


class Ladder(enum.Enum):
    ABLATION = "ablation"
    CPU_OPTIONS = "cpu-options"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rung:
    label: str  # unique within the ladder; the result's `setting`
    mode: CompileMode
    options: WorkloadOptions
    not_applicable: str | None = None  # why this rung was not measured on the device

    def __post_init__(self) -> None:
        if not self.mode.compiled:
            raise ValueError(f"rung {self.label!r}: eager is every ladder's baseline already")


# 10 rounds let order and clock drift pass for an effect (eager measured 9 % faster
# *with* dormant slots on an H200, torch 2.11); 30 paired rounds narrow the bootstrap CI of a
# median ratio to a few percent where the machine is quiet, at seconds per small group.
DEFAULT_ROUNDS = 30


class CompileTimeScope(enum.Enum):
    NONE = "none"
    BARE = "bare"  # the bare host, and any module handed to benchmark_module
    ALL = "all"


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasureConfig:
    device: str = "cpu"  # "cpu" or "cuda" (the CLI resolves "auto" before building this)
    precision: Precision = Precision.FP32
    modes: tuple[CompileMode, ...] = (CompileMode.DEFAULT,)  # compiled modes, each against eager
    backend: str = (
        "inductor"  # tests use "eager"/"aot_eager"; speed only means something on inductor
    )
    fullgraph: bool = False  # the audit checks breaks; here a break should cost speed, not the run
    rounds: int = DEFAULT_ROUNDS  # interleaved rounds; every candidate runs one block per round
    min_block_s: float = 0.05  # calls per block grow until a block lasts this long
    # Warm-up runs blocks until the median of the last `warmup_window` blocks moves by at
    # most `warmup_tolerance` from the window before it (clocks and caches settled), and
    # gives up after `warmup_max_blocks`, recording that it never settled.
    warmup_max_blocks: int = 20
    warmup_window: int = 3
    warmup_tolerance: float = 0.02
    # Each round runs the candidates in a fresh random order drawn from `seed`, recorded in
    # the result; False keeps the plain rotation (AB, BA, ...).
    randomize_order: bool = True
    # First call with a cold and a warm inductor cache: for the bare host only (each cold
    # compile of a training step costs 15-40 s on 2 cores), for every variant, or not at all.
    compile_time: CompileTimeScope = CompileTimeScope.BARE
    memory: bool = True  # peak memory of a few calls per candidate
    flops: bool = True  # count FLOPs (for MFU where the device's peak is known)
    threads: int | None = None  # torch intra-op threads; None keeps the process's setting
    confidence: float = 0.95
    resamples: int = 2000  # bootstrap resamples
    seed: int = 0  # bootstrap RNG seed, model initialisation seed and round-order seed
    options: WorkloadOptions = WorkloadOptions()  # levers applied to every candidate
    # A ladder replaces `modes`: each rung is one compiled setting measured against eager.
    ladder: Ladder | None = None
    rungs: tuple[Rung, ...] = ()

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if not self.modes or any(not mode.compiled for mode in self.modes):
            raise ValueError(
                f"modes must name compiled modes (eager is always measured), got {self.modes}"
            )
        if len(set(self.modes)) != len(self.modes):
            raise ValueError(f"modes repeat: {self.modes}")
        if self.device == "cpu" and CompileMode.REDUCE_OVERHEAD in self.modes:
            raise ValueError("mode 'reduce-overhead' uses CUDA graphs and needs --device cuda")
        for name, bad, accepted in (
            ("rounds", self.rounds < 1, ">= 1"),
            ("min_block_s", self.min_block_s < 0, ">= 0"),
            ("warmup_max_blocks", self.warmup_max_blocks < 1, ">= 1"),
            ("warmup_window", self.warmup_window < 1, ">= 1"),
            ("warmup_tolerance", self.warmup_tolerance <= 0, "> 0"),
            ("threads", self.threads is not None and self.threads < 1, ">= 1"),
            ("confidence", not 0.0 < self.confidence < 1.0, "in (0, 1)"),
            ("resamples", self.resamples < 1, ">= 1"),
        ):
            if bad:
                raise ValueError(f"{name} must be {accepted}, got {getattr(self, name)}")
        reason = self.options.not_applicable(self.device)
        if reason is not None:
            raise ValueError(reason)
        if (self.ladder is None) != (not self.rungs):
            raise ValueError(f"a ladder needs rungs and rungs a ladder, got {self.ladder}")
        labels = [rung.label for rung in self.rungs]
        if len(set(labels)) != len(labels):
            raise ValueError(f"rung labels repeat: {labels}")


def quick(config: MeasureConfig) -> MeasureConfig:
    """A fast verdict: few short rounds, no separate cold/warm compile, no memory probe."""
    return dataclasses.replace(
        config,
        rounds=min(config.rounds, 5),
        min_block_s=min(config.min_block_s, 0.02),
        warmup_max_blocks=min(config.warmup_max_blocks, 4),
        warmup_window=1,  # block against block: settles in 2-4 blocks
        warmup_tolerance=max(config.warmup_tolerance, 0.05),
        compile_time=CompileTimeScope.NONE,
        memory=False,
        resamples=min(config.resamples, 500),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    measure: MeasureConfig
    workloads: tuple[str, ...] = ()  # globs over workload names; empty: the default sizes
    quick: bool = False
    out: str | None = None  # directory for the JSON; None: a fresh temporary directory
    verbose: bool = False  # progress lines on stderr even when it is not a terminal
