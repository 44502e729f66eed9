"""A plain module with a compile hazard, and the same module fixed.

    python -m audits.run --target examples.item_in_forward:make        # flagged
    python -m audits.run --target examples.item_in_forward:make_fixed  # clean

`ScaledProjection` prints a statistic of its activations from inside forward, a
habit carried over from eager debugging. Dynamo traces neither half of that line:
`.item()` turns a tensor into a Python number (traced only with
`capture_scalar_outputs`), and `print` is a Python side effect. Each splits the
graph, and under `fullgraph=True` compiling fails. `TrackedProjection` keeps the
statistic in a registered buffer updated in place, and the training loop reads it
between steps.
"""

from __future__ import annotations

import torch
from torch import nn

WIDTH = 16  # features in and out
BATCH = 8


class ScaledProjection(nn.Module):
    """A linear layer whose output is divided by its largest magnitude; logs that scale."""

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)  # (B, W)
        scale = y.detach().abs().max()
        print(f"activation scale {scale.item():.3f}")  # the hazard: .item() and print
        return y / (1.0 + scale)


class TrackedProjection(nn.Module):
    """The same computation with the scale kept in a buffer: nothing leaves the graph."""

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)
        # Updated in place by forward; read it (`.item()`, print) outside forward.
        self.register_buffer("last_scale", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)  # (B, W)
        scale = y.detach().abs().max()
        self.last_scale.copy_(scale)
        return y / (1.0 + scale)


def _example_batch() -> torch.Tensor:
    return torch.randn(BATCH, WIDTH)  # (B, W)


def make() -> tuple[nn.Module, tuple[torch.Tensor]]:
    """The module with the hazard and one example batch."""
    return ScaledProjection(), (_example_batch(),)


def make_fixed() -> tuple[nn.Module, tuple[torch.Tensor]]:
    """The fixed module and the same example batch."""
    return TrackedProjection(), (_example_batch(),)
