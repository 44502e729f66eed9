"""Hazard: .item() in forward, pulling a tensor value into Python."""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import Target
from reporting.schema.audit import CheckName


class ItemScaledLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        scale = y.abs().mean().item()  # a device sync, and a Python float to dynamo
        return y / (1.0 + scale)


def target() -> Target:
    return hazard_target(
        "item_in_forward",
        ItemScaledLayer,
        expected=(CheckName.BREAKS,),
        description="y / (1 + y.abs().mean().item()) in forward",
    )
