"""Hazard: building strings and a dict in forward (ad-hoc telemetry).

Each call adds a key, so the dict dynamo guards on never matches again.
"""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import Target
from reporting.schema.audit import CheckName


class TelemetryLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)
        self.stats: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        self.stats[f"call_{len(self.stats)}_norm"] = y.detach().norm()
        return y


def target() -> Target:
    return hazard_target(
        "dict_building",
        TelemetryLayer,
        expected=(CheckName.RECOMPILES,),
        description='self.stats[f"call_{n}_norm"] = ... in forward',
    )
