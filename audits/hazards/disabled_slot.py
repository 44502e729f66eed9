"""Hazard: torch.compiler.disable on a slot's forward inside a host.

This is what the original seed slot did: the host around it can then never
compile as one graph.
"""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import Target
from reporting.schema.audit import CheckName


class DisabledSlot(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.seed = nn.Linear(WIDTH, WIDTH)

    @torch.compiler.disable
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.seed(x)


class HostWithDisabledSlot(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(WIDTH, WIDTH)
        self.slot = DisabledSlot()
        self.head = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.slot(torch.relu(self.stem(x))))


def target() -> Target:
    return hazard_target(
        "disabled_slot",
        HostWithDisabledSlot,
        expected=(CheckName.FULLGRAPH, CheckName.BREAKS),
        description="@torch.compiler.disable on a slot's forward inside a host",
    )
