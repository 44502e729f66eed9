"""Hazard: input validation that raises inside the compiled region."""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import BadInput, Target
from reporting.schema.audit import CheckName


class CheckedLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != WIDTH:
            raise ValueError(f"expected {WIDTH} features, got {x.shape[-1]}")
        return self.proj(x)


def target() -> Target:
    return hazard_target(
        "raise_under_fullgraph",
        CheckedLayer,
        expected=(CheckName.EXCEPTIONS,),
        description="raise ValueError for a bad feature count, inside forward",
        bad_inputs=(
            BadInput(
                name="wrong feature count",
                make_inputs=lambda: (torch.rand(4, WIDTH + 1),),
                raises=ValueError,
                match="features",
            ),
        ),
    )
