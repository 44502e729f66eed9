"""Hazard: a Python loop over the batch, and its clean counterpart.

`range(x.shape[0])` needs a number, so dynamo specialises the batch size: every
new batch size compiles again (automatic dynamic shapes cannot help), and
mark_dynamic on the batch raises a constraint violation naming the loop.
"""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import Target, batch_dims
from reporting.schema.audit import CheckName


class PerSampleLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.proj(x[i]) for i in range(x.shape[0])])  # (B, WIDTH)


class BatchedLayer(PerSampleLayer):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)  # (B, WIDTH): the same rows in one batched call


def target() -> Target:
    return hazard_target(
        "batch_loop",
        PerSampleLayer,
        expected=(CheckName.SHAPES,),
        description="for i in range(x.shape[0]): ... in forward (a new compile per batch size)",
        dynamic_dims=batch_dims(0),
    )


def clean_target() -> Target:
    return hazard_target(
        "batch_loop_clean",
        BatchedLayer,
        expected=(),
        description="the batch_loop hazard's rows in one batched call",
        dynamic_dims=batch_dims(0),
    )
