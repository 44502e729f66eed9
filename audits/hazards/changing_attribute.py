"""Hazard: a Python attribute that changes on every call.

Dynamo guards on an nn.Module's int attributes as constants, so each new
value is a new compilation, until recompile_limit is reached.
"""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import Target
from reporting.schema.audit import CheckName


class StepCountingLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.proj(x) * (1.0 / self.calls)


def target() -> Target:
    return hazard_target(
        "changing_attribute",
        StepCountingLayer,
        expected=(CheckName.RECOMPILES,),
        description="self.calls += 1 (a Python int) used in forward",
    )
