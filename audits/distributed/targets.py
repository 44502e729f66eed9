"""The distributed targets: both hosts with a seed in TRAINING under DDP and FSDP2."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial

from torch import nn

from audits.builtin_hosts import (
    CNN,
    GPT,
    HOST_INPUTS,
    HOST_NAMES,
    STAGE_BLUEPRINT,
    cnn_host,
    seeded_model,
    transformer_host,
)
from audits.targets import DistributedSpec, Target
from esper.kasmina import compile_with_validation
from esper.leyline import SeedStage
from reporting.schema.distributed import Wrapper
from reporting.schema.vocabulary import Task

# torch.compile's DDPOptimizer refuses a bucket cap below its 1 MiB first bucket (torch
# 2.13 asserts "First bucket should be smaller/equal to other buckets"), so DDP splits a
# graph only for a module with more than 1 MiB of parameters: these hosts have about 1.4
# and 1.2 MiB, and a 1 MiB cap gives each two buckets. Wider layers cost the compile
# nothing; the ranks run on CPU.
CNN_DISTRIBUTED = dataclasses.replace(CNN, name="distributed", base_channels=64)  # 64-128-256
GPT_DISTRIBUTED = dataclasses.replace(GPT, name="distributed", vocab_size=4096, n_embd=64)
DISTRIBUTED_HOSTS: dict[str, Callable[[], nn.Module]] = {
    "cnn": partial(cnn_host, CNN_DISTRIBUTED),
    "transformer": partial(transformer_host, GPT_DISTRIBUTED),
}
DDP_BUCKET_CAP_MB = 1.0


def distributed_targets() -> list[Target]:
    """Both hosts with a seed in TRAINING, under DDP and FSDP2, two gloo ranks each."""
    specs = {
        Wrapper.DDP: DistributedSpec(
            wrapper=Wrapper.DDP, bucket_cap_mb=DDP_BUCKET_CAP_MB, min_graphs=2
        ),
        Wrapper.FSDP2: DistributedSpec(wrapper=Wrapper.FSDP2),
    }
    wrapped = {
        Wrapper.DDP: f"DistributedDataParallel(bucket_cap_mb={DDP_BUCKET_CAP_MB:g})",
        Wrapper.FSDP2: "fully_shard",
    }
    return [
        Target(
            name=f"distributed/{wrapper.value}/{topology}/training",
            build=partial(seeded_model, topology, SeedStage.TRAINING, 0.0, DISTRIBUTED_HOSTS),
            make_inputs=HOST_INPUTS[topology],
            modes=(Task.TRAIN,),
            compile=compile_with_validation,
            distributed=spec,
            group="distributed",
            description=f"{wrapped[wrapper]}(compile_with_validation(MorphogeneticModel("
            f"{HOST_NAMES[topology]}))) with a {STAGE_BLUEPRINT[topology]} seed in TRAINING, "
            f"{spec.world_size} gloo ranks",
        )
        for wrapper, spec in specs.items()
        for topology in ("cnn", "transformer")
    ]
