"""Hazard: a forward that mutates its input in place, and its clean counterpart.

Under mode="reduce-overhead" a CUDA graph replays fixed memory addresses. A graph
that writes into a tensor the caller owns (not a parameter, a buffer or a CUDA
graph output) cannot be replayed safely, so inductor runs it without CUDA graphs:
"skipping cudagraphs due to mutated inputs (1 instances)" in torch's cudagraphs log,
counted in counters["inductor"]["cudagraph_skips"]. The clean version computes the
same output out of place. CUDA only: on a CPU the check is not applicable.
"""

import torch
from torch import nn

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import Target
from reporting.schema.audit import CheckName


class CenterInPlace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.sub_(x.mean(dim=-1, keepdim=True))  # writes into the caller's tensor
        return self.proj(x)


class Center(CenterInPlace):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x - x.mean(dim=-1, keepdim=True))


def target() -> Target:
    return hazard_target(
        "mutated_input",
        CenterInPlace,
        expected=(CheckName.CUDAGRAPHS,),
        description="x.sub_(...) on the forward's input (reduce-overhead skips CUDA graphs)",
    )


def clean_target() -> Target:
    return hazard_target(
        "mutated_input_clean",
        Center,
        expected=(),
        description="the mutated_input hazard computed out of place",
    )
