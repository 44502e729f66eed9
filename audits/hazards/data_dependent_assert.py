"""Hazard: an assert on tensor values.

Dynamo does not break on it: it turns the assert into a runtime check inside
the graph. The happy path compiles, but a violating input raises a
RuntimeError compiled where eager raises AssertionError.

PYTEST_DONT_REWRITE: installing esper registers its pytest plugin, and pytest then
rewrites the asserts of every module of the distribution; a rewritten assert is a
graph break, so the hazard would show under pytest what it does not show elsewhere.
"""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import BadInput, Target
from reporting.schema.audit import CheckName


class PositiveInputLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert (x > 0).all(), "inputs must be positive"
        return self.proj(x.log())


def target() -> Target:
    return hazard_target(
        "data_dependent_assert",
        PositiveInputLayer,
        expected=(CheckName.EXCEPTIONS,),
        description="assert (x > 0).all() in forward",
        bad_inputs=(
            BadInput(
                name="negative input",
                make_inputs=lambda: (-torch.rand(4, WIDTH),),
                raises=AssertionError,
                match="positive",
            ),
        ),
    )
