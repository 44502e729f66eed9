"""Hazard: control flow on a tensor's values, and its clean counterpart.

torch.export cannot trace a Python `if` on a value it only knows at run time
(a data-dependent guard), strict or not, where torch.compile falls back to a
graph break. `torch.where` computes both sides and exports.
"""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import Target, batch_dims
from reporting.schema.audit import CheckName


class ClampWhenLargeLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        if y.abs().max() > 1.0:  # a data-dependent branch
            y = y.clamp(-1.0, 1.0)
        return y


class ClampLayer(ClampWhenLargeLayer):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        return torch.where(y.abs().max() > 1.0, y.clamp(-1.0, 1.0), y)


def target() -> Target:
    return hazard_target(
        "data_dependent_branch",
        ClampWhenLargeLayer,
        # torch.compile breaks the graph on it too
        expected=(CheckName.FULLGRAPH, CheckName.BREAKS, CheckName.EXPORT),
        description="if y.abs().max() > 1.0: ... in forward",
        dynamic_dims=batch_dims(0),
    )


def clean_target() -> Target:
    return hazard_target(
        "data_dependent_branch_clean",
        ClampLayer,
        expected=(),
        description="the data_dependent_branch hazard with torch.where",
        dynamic_dims=batch_dims(0),
    )
