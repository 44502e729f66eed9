"""Distributed targets for the launcher's tests: module-level, so that every rank imports them.

The clean one is a 3-layer MLP with 2 MiB of parameters: a 1 MiB DDP bucket cap (the
smallest torch.compile's DDPOptimizer accepts) then splits its graph in two. The broken
ones misbehave on rank 1 only, while building the module, before any collective, so
that rank 0 is left waiting for it in DDP's first broadcast.
"""

from __future__ import annotations

import os
import signal
import time

import torch
from torch import nn

from audits.targets import DistributedSpec, Target
from reporting.schema.distributed import CompileOrder, Wrapper

WIDTH = 512  # two 512x512 layers: 2 MiB of fp32 weights
DDP_SPLIT = DistributedSpec(wrapper=Wrapper.DDP, bucket_cap_mb=1.0, min_graphs=2)


def _mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 8)
    )


def _inputs() -> tuple[torch.Tensor]:
    return (torch.randn(4, WIDTH),)


def _target(name: str, build, spec: DistributedSpec = DDP_SPLIT) -> Target:  # type: ignore[no-untyped-def]
    return Target(
        name=name,
        build=build,
        make_inputs=_inputs,
        distributed=spec,
        group="distributed",
        steady_calls=2,
    )


def ddp_mlp() -> Target:
    return _target("ddp-mlp", _mlp)


def ddp_mlp_compiled_outside() -> Target:
    spec = DistributedSpec(
        wrapper=Wrapper.DDP,
        bucket_cap_mb=1.0,
        min_graphs=2,
        order=CompileOrder.WRAP_THEN_COMPILE,
    )
    return _target("ddp-mlp-outside", _mlp, spec)


def fsdp2_mlp() -> Target:
    return _target("fsdp2-mlp", _mlp, DistributedSpec(wrapper=Wrapper.FSDP2))


def _on_rank_one(action) -> nn.Module:  # type: ignore[no-untyped-def]
    if os.environ.get("RANK") == "1":
        action()
    return _mlp()


def _raise() -> None:
    raise RuntimeError("rank 1 refuses to build")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _hang() -> None:
    time.sleep(600)


def raising_rank() -> Target:
    return _target("raising-rank", lambda: _on_rank_one(_raise))


def dying_rank() -> Target:
    return _target("dying-rank", lambda: _on_rank_one(_die))


def hanging_rank() -> Target:
    return _target("hanging-rank", lambda: _on_rank_one(_hang))
