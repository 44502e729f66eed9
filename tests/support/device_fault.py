"""A target whose compiled form trips a (simulated) device-side assert, for CPU tests.

Real code raising a real exception: the compile hook stands in for a GPU kernel whose
assert fires on a non-positive input, with the message torch gives for a CUDA
device-side assert. Like a CUDA context after one, the process then fails every later
"device" call: building the module, calling it eager or compiled. A fresh process
starts with a working "device" again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from audits.targets import BadInput, Target
from reporting.schema.audit import CheckName

MESSAGE = (
    "CUDA error: device-side assert triggered\n"
    "CUDA kernel errors might be asynchronously reported at some other API call."
)
_DEVICE = {"lost": False}


def reset_device() -> None:
    _DEVICE["lost"] = False


def _device_call() -> None:
    if _DEVICE["lost"]:
        raise RuntimeError(MESSAGE)


class PositiveLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        _device_call()  # as module.to("cuda") fails once the context is lost
        self.proj = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _device_call()
        torch._assert_async((x > 0).all(), "inputs must be positive")
        return self.proj(x)


def compile_on_faulting_device(
    module: nn.Module, *, backend: Any, fullgraph: bool
) -> Callable[..., Any]:
    compiled = torch.compile(module, backend=backend, fullgraph=fullgraph)

    def run(*inputs: Any) -> Any:
        _device_call()
        if any(isinstance(x, torch.Tensor) and bool((x <= 0).any()) for x in inputs):
            _DEVICE["lost"] = True
            raise RuntimeError(MESSAGE)
        return compiled(*inputs)

    return run


def device_fault_target() -> Target:
    """Expected to be flagged by the exceptions check only, like hazard/data_dependent_assert."""
    return Target(
        name="device_fault",
        build=PositiveLayer,
        make_inputs=lambda: (torch.rand(2, 4) + 0.1,),
        compile=compile_on_faulting_device,
        bad_inputs=(
            BadInput(
                name="negative input",
                make_inputs=lambda: (-torch.rand(2, 4) - 0.1,),
                raises=RuntimeError,
                match="positive",
            ),
            BadInput(
                name="zero input",
                make_inputs=lambda: (torch.zeros(2, 4),),
                raises=RuntimeError,
                match="positive",
            ),
        ),
        expected_flags=(CheckName.EXCEPTIONS,),
        group="test",
    )
