"""Shared shape of the hazard targets: an 8-wide linear layer on a (4, 8) batch."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from audits.targets import BadInput, CompileFn, DynamicDim, Target, torch_compile
from reporting.schema.audit import CheckName

WIDTH = 8


def example_inputs() -> tuple[torch.Tensor]:
    return (torch.rand(4, WIDTH) + 0.1,)  # strictly positive: the assert hazard's happy path


def hazard_target(
    name: str,
    build: Callable[[], nn.Module],
    *,
    expected: tuple[CheckName, ...],
    description: str,
    bad_inputs: tuple[BadInput, ...] = (),
    dynamic_dims: tuple[DynamicDim, ...] | None = None,
    compile: CompileFn = torch_compile,
) -> Target:
    return Target(
        name=f"hazard/{name}",
        build=build,
        make_inputs=example_inputs,
        bad_inputs=bad_inputs,
        group="hazard",
        description=description,
        expected_flags=expected,
        dynamic_dims=dynamic_dims,
        compile=compile,
    )
