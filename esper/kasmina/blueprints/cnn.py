"""Seeds for convolutional hosts: (B, C, H, W) -> (B, C, H, W).

Residual seeds zero-initialise their last layer, so a fresh seed is the identity
and germination does not move the host's output.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from esper.kasmina.blueprints.registry import BlueprintRegistry


def _zero_init(layer: nn.Linear | nn.Conv2d) -> nn.Linear | nn.Conv2d:
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _group_count(channels: int, preferred: int = 8) -> int:
    # GroupNorm needs channels % groups == 0; take the largest divisor up to `preferred`.
    return math.gcd(channels, preferred)


@BlueprintRegistry.register("norm", "cnn", 100)
class NormSeed(nn.Module):
    """Residual GroupNorm with a zero-initialised gain."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(_group_count(dim), dim)
        self.gain = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gain * self.norm(x)


@BlueprintRegistry.register("attention", "cnn", 2000)
class SqueezeExcitationSeed(nn.Module):
    """Squeeze-and-excitation channel attention; starts as the identity."""

    def __init__(self, dim: int, reduction: int = 4) -> None:
        super().__init__()
        if reduction < 1:
            raise ValueError(f"reduction must be >= 1, got {reduction!r}")
        hidden = max(dim // reduction, 1)
        self.squeeze = nn.Linear(dim, hidden)
        self.excite = _zero_init(nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))  # (B, C)
        gate = torch.tanh(self.excite(F.relu(self.squeeze(pooled))))  # (B, C), 0 at init
        return x * (1.0 + gate[:, :, None, None])


@BlueprintRegistry.register("depthwise", "cnn", 4800)
class DepthwiseSeed(nn.Module):
    """Depthwise 3x3 then pointwise 1x1, added residually."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=False)
        self.norm = nn.BatchNorm2d(dim)
        self.pointwise = _zero_init(nn.Conv2d(dim, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pointwise(F.relu(self.norm(self.depthwise(x))))


@BlueprintRegistry.register("conv_light", "cnn", 37000)
class ConvLightSeed(nn.Module):
    """A single residual 3x3 convolution."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = _zero_init(nn.Conv2d(dim, dim, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


@BlueprintRegistry.register("conv_heavy", "cnn", 74000)
class ConvHeavySeed(nn.Module):
    """Two 3x3 convolutions with BatchNorm, added residually (a ResNet basic block)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(dim)
        self.conv2 = _zero_init(nn.Conv2d(dim, dim, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.norm1(self.conv1(x))))
