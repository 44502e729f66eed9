"""Hazard: a Python branch on a tensor's value."""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import Target
from reporting.schema.audit import CheckName


class SignBranchLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        if y.sum() > 0:  # should be torch.where
            return y * 2.0
        return -y


def target() -> Target:
    return hazard_target(
        "tensor_branch",
        SignBranchLayer,
        expected=(CheckName.FULLGRAPH, CheckName.BREAKS),
        description="if y.sum() > 0: ... in forward",
    )
