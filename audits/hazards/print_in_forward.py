"""Hazard: print in forward."""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import Target
from reporting.schema.audit import CheckName


class ChattyLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        print("chatty layer output shape", y.shape)
        return torch.relu(y)


def target() -> Target:
    return hazard_target(
        "print_in_forward",
        ChattyLayer,
        expected=(CheckName.FULLGRAPH, CheckName.BREAKS),
        description="print(...) in forward",
    )
