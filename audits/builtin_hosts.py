"""The hosts the built-in targets are made of: their sizes (the audit's, and a GPU size
for the host benchmarks on CUDA), their inputs, the dims that vary, the bad inputs they
refuse, and a host with a slot driven to a stage. audits.builtin_targets,
audits.guard_targets and audits.distributed.targets build their targets from these.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from audits.targets import BadInput, BenchmarkSize, DynamicDim, Inputs, batch_dims
from benchmarks import CnnSize, TransformerSize
from esper.kasmina import CNNHost, MorphogeneticModel, TransformerHost
from esper.kasmina.staging import PERMISSIVE_GATES, drive_to_stage
from esper.leyline import SeedStage
from reporting.schema.shapes import DimKind

# The benchmarks' host sizes, at the audit's scale.
CNN = CnnSize(
    name="audit",
    n_blocks=3,  # the smallest host with two injection points
    base_channels=8,  # block widths 8, 16, 32
    batch_size=2,
    image_size=16,  # 2**n_blocks * 2: the last block still sees 2x2 pixels
)
GPT = TransformerSize(
    name="audit",
    vocab_size=128,
    n_embd=32,
    n_head=2,
    n_layer=1,  # one block already runs every code path of the host and its slot
    block_size=16,
    dropout=0.0,  # dropout draws differ between eager and compiled kernels
    batch_size=2,
    seq_len=8,
)
SEED_DIM = 16  # feature width of the bare blueprint targets
STAGE_BLUEPRINT = {"cnn": "conv_light", "transformer": "lora"}
ALPHA_RAMP_STEPS = 20


# ----------------------------------------------------------------- hosts
# Called with no argument, the audit's sizes; with one, another size of the same host.
def cnn_host(size: CnnSize = CNN) -> CNNHost:
    return CNNHost(**size.host_arguments())


def transformer_host(
    size: TransformerSize = GPT, cls: type[TransformerHost] = TransformerHost
) -> TransformerHost:
    return cls(**size.host_arguments())


HOSTS: dict[str, Callable[..., nn.Module]] = {"cnn": cnn_host, "transformer": transformer_host}
HOST_NAMES = {"cnn": "CNNHost", "transformer": "TransformerHost"}


def images(size: CnnSize = CNN, channels: int = 3) -> Inputs:
    return (torch.randn(size.batch_size, channels, size.image_size, size.image_size),)


def tokens(size: TransformerSize = GPT, seq_len: int | None = None) -> Inputs:
    return (torch.randint(0, size.vocab_size, (size.batch_size, seq_len or size.seq_len)),)


HOST_INPUTS: dict[str, Callable[..., Inputs]] = {"cnn": images, "transformer": tokens}

# What varies between calls in real use: the batch, and a transformer's sequence length
# up to its block size.
SEQUENCE_DIMS = (
    DynamicDim(input=0, dim=0, kind=DimKind.BATCH),
    DynamicDim(input=0, dim=1, kind=DimKind.SEQUENCE, max_size=GPT.block_size),
)
HOST_DYNAMIC_DIMS: dict[str, tuple[DynamicDim, ...]] = {
    "cnn": batch_dims(0),
    "transformer": SEQUENCE_DIMS,
}

HOST_BAD_INPUTS: dict[str, tuple[BadInput, ...]] = {
    "cnn": (
        BadInput(
            name="wrong channel count",
            make_inputs=partial(images, channels=4),
            raises=ValueError,
            match="expects",
        ),
    ),
    "transformer": (
        BadInput(
            name="sequence longer than block_size",
            make_inputs=partial(tokens, seq_len=GPT.block_size + 1),
            raises=ValueError,
            match="block_size",
        ),
    ),
}


# On a GPU the audit's hosts above are launch-bound: a few thousand FLOPs per kernel, so
# eager and compiled both wait on launches and measured 1.00x on an H200 (torch 2.11). The
# host benchmarks there use these sizes instead: wide enough that the matmuls and convs,
# not the launches, set the time, and still seconds per target.
CNN_GPU = CnnSize(name="gpu", n_blocks=4, base_channels=64, batch_size=256, image_size=32)
GPT_GPU = TransformerSize(
    name="gpu",
    vocab_size=8192,
    n_embd=768,
    n_head=12,
    n_layer=2,
    block_size=512,
    batch_size=8,
    seq_len=512,
)


GPU_SIZES: dict[str, tuple[CnnSize | TransformerSize, str]] = {
    "cnn": (CNN_GPU, f"{CNN_GPU.base_channels}-channel base, batch {CNN_GPU.batch_size}"),
    "transformer": (
        GPT_GPU,
        f"{GPT_GPU.n_embd} wide, {GPT_GPU.batch_size} x {GPT_GPU.seq_len} tokens",
    ),
}


def host_benchmark_size(topology: str, device: str) -> BenchmarkSize:
    """The audit's size on CPU (compiling there already pays at it); a GPU size on CUDA."""
    if torch.device(device).type != "cuda":
        return BenchmarkSize(
            label="audit size",
            build=HOSTS[topology],
            make_inputs=HOST_INPUTS[topology],
            launch_bound=False,
        )
    size, label = GPU_SIZES[topology]
    return BenchmarkSize(
        label=f"GPU size: {label}",
        build=partial(HOSTS[topology], size),
        make_inputs=partial(HOST_INPUTS[topology], size),
        launch_bound=False,
    )


# ----------------------------------------------------------------- hosts with seeds
def seeded_model(
    topology: str,
    stage: SeedStage | None = None,
    alpha: float | None = None,
    hosts: dict[str, Callable[[], nn.Module]] = HOSTS,
) -> MorphogeneticModel:
    """The host with a slot; its seed driven to `stage` (none: the slot stays empty)."""
    model = MorphogeneticModel(hosts[topology]())
    model.seed_slot.gates = PERMISSIVE_GATES  # the audit drives stages, it does not train
    if stage is not None:
        drive_to_stage(
            model.seed_slot,
            stage,
            blueprint_id=STAGE_BLUEPRINT[topology],
            alpha=alpha,
            host_module=model.host,
        )
    return model
