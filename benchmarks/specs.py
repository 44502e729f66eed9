"""What can be benchmarked, by name: topology and size, task, and the seed variant.

A workload's name is ``<topology>-<size>/<task>/<variant>``, for example
``cnn-small/infer/dormant`` or ``transformer-gpt2-small/train/seed-training``, so that
``--workloads 'cnn-*'`` or ``'*/train/*'`` pick families with a glob. This module knows
no esper: it only names things and holds the host sizes (the audit's targets use the same
two records); workloads.py builds them.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from reporting.schema.vocabulary import Task


class Topology(enum.Enum):
    CNN = "cnn"
    TRANSFORMER = "transformer"


class Variant(enum.Enum):
    BARE = "bare"  # the host alone, no slots registered
    DORMANT = "dormant"  # a slot at every injection point, none holding a seed
    SEED_TRAINING = "seed-training"  # one seed in TRAINING behind the STE, alpha 0
    SEED_BLENDING = "seed-blending"  # one seed in BLENDING at alpha 0.5
    SEED_FOSSILIZED = "seed-fossilized"  # one seed FOSSILIZED, alpha 1
    SEED_ALONE = "seed-alone"  # only the seed module, on the features it sees in the host


HOST_VARIANTS = tuple(variant for variant in Variant if variant is not Variant.SEED_ALONE)


def _check_positive(size: Any) -> None:
    for field in fields(size):
        value = getattr(size, field.name)
        if type(value) is int and value < 1:
            raise ValueError(f"{type(size).__name__}.{field.name} must be >= 1, got {value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CnnSize:
    """CNNHost on CIFAR-sized images; throughput in images/s."""

    name: str
    n_blocks: int = 3  # CNNHost default: three conv blocks, injection points after blocks 2 and 3
    base_channels: int = 32  # CNNHost default width of the first block
    num_classes: int = 10  # CIFAR-10
    batch_size: int = 32  # one mini-batch per call
    image_size: int = 32  # 3 x 32 x 32, CIFAR
    blueprint: str = "conv_light"  # the seed grafted in the seed variants

    def __post_init__(self) -> None:
        _check_positive(self)

    @property
    def items_per_call(self) -> int:
        return self.batch_size

    def host_arguments(self) -> dict[str, Any]:
        """CNNHost's constructor arguments."""
        return {name: getattr(self, name) for name in ("num_classes", "n_blocks", "base_channels")}


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformerSize:
    """TransformerHost language model; throughput in tokens/s."""

    name: str
    vocab_size: int = 8192  # a small BPE-sized vocabulary; gpt2-small uses 50257
    n_embd: int = 256
    n_head: int = 4
    n_layer: int = 4
    block_size: int = 256
    batch_size: int = 4
    seq_len: int = 128  # tokens per sequence; <= block_size
    blueprint: str = "lora"  # the seed grafted in the seed variants
    # Dropout off, as nanoGPT's bench.py does: it changes nothing about the work's shape,
    # and random masks would make eager and compiled numerics drift apart for no gain.
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _check_positive(self)
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        if self.seq_len > self.block_size:
            raise ValueError(f"seq_len={self.seq_len} exceeds block_size={self.block_size}")

    @property
    def items_per_call(self) -> int:
        return self.batch_size * self.seq_len

    def host_arguments(self) -> dict[str, Any]:
        """TransformerHost's constructor arguments."""
        names = ("vocab_size", "n_embd", "n_head", "n_layer", "block_size", "dropout")
        return {name: getattr(self, name) for name in names}


Size = CnnSize | TransformerSize

# fmt: off
SIZES: dict[tuple[Topology, str], Size] = {
    (Topology.CNN, "tiny"): CnnSize(
        name="tiny", n_blocks=2, base_channels=4, batch_size=2, image_size=8
    ),
    (Topology.CNN, "small"): CnnSize(name="small"),
    (Topology.CNN, "large"): CnnSize(name="large", n_blocks=4, base_channels=64, batch_size=256),
    (Topology.TRANSFORMER, "tiny"): TransformerSize(
        name="tiny", vocab_size=64, n_embd=16, n_head=2, n_layer=2, block_size=16,
        batch_size=2, seq_len=8,
    ),
    (Topology.TRANSFORMER, "small"): TransformerSize(name="small"),
    (Topology.TRANSFORMER, "gpt2-small"): TransformerSize(
        name="gpt2-small", vocab_size=50257, n_embd=768, n_head=12, n_layer=12,
        block_size=1024, batch_size=8, seq_len=1024,
    ),
}
# fmt: on

# What a run measures when --workloads is not given: the small sizes everywhere, and the
# GPU-sized presets too on CUDA. "tiny" exists for tests and is never a default.
DEFAULT_SIZES = {"cpu": ("small",), "cuda": ("small", "large", "gpt2-small")}


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadSpec:
    """One measurable workload: a host at a size, doing a task, in one variant."""

    topology: Topology
    size: str
    task: Task
    variant: Variant

    def __post_init__(self) -> None:
        if (self.topology, self.size) not in SIZES:
            known = sorted(size for topology, size in SIZES if topology is self.topology)
            raise ValueError(
                f"unknown size {self.size!r} for {self.topology.value}; valid: {known}"
            )

    @property
    def family(self) -> str:
        return f"{self.topology.value}-{self.size}"

    @property
    def name(self) -> str:
        return f"{self.family}/{self.task.value}/{self.variant.value}"

    @property
    def group(self) -> str:
        """Workloads of one group are measured interleaved with each other."""
        return f"{self.family}/{self.task.value}"

    @property
    def config(self) -> Size:
        return SIZES[(self.topology, self.size)]

    @property
    def unit(self) -> str:
        return "images/s" if self.topology is Topology.CNN else "tokens/s"


def select_specs(patterns: Sequence[str] | None, device: str) -> list[WorkloadSpec]:
    """The host workloads whose names match any glob; without globs, the device's default
    sizes. Raises ValueError naming the valid workloads when a glob matches nothing."""
    specs = [
        WorkloadSpec(topology=topology, size=size, task=task, variant=variant)
        for (topology, size) in SIZES
        for task in Task
        for variant in HOST_VARIANTS
    ]
    if not patterns:
        return [spec for spec in specs if spec.size in DEFAULT_SIZES[device]]
    selected: list[WorkloadSpec] = []
    for pattern in patterns:
        matches = [spec for spec in specs if fnmatch.fnmatchcase(spec.name, pattern)]
        if not matches:
            families = sorted({spec.family for spec in specs})
            raise ValueError(
                f"--workloads {pattern!r} matches nothing; names are <family>/<task>/<variant>, "
                f"family in {families}, task in {[t.value for t in Task]}, "
                f"variant in {[v.value for v in HOST_VARIANTS]}"
            )
        selected.extend(spec for spec in matches if spec not in selected)
    return selected
