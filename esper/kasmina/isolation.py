"""Gradient isolation between a host and the seed grafted into it.

The functions here are the only tensor math of the lifecycle: a straight-through
estimator for incubation and an alpha blend for everything after. Both are pure
tensor work, so they trace into a single graph under torch.compile(fullgraph=True).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn as nn


def ste_forward(host_features: torch.Tensor, seed_features: torch.Tensor) -> torch.Tensor:
    """Straight-through estimator: the value is `host_features`, gradients reach both.

    `seed - seed.detach()` is exactly zero in the forward pass, so the output is
    the host's to the bit, while the backward pass sees d(out)/d(seed) = 1.
    """
    return host_features + (seed_features - seed_features.detach())


def blend_with_isolation(
    host_features: torch.Tensor,
    seed_features: torch.Tensor,
    alpha: float | torch.Tensor,
    detach_host: bool = True,
) -> torch.Tensor:
    """`(1 - alpha) * host + alpha * seed`, with alpha clamped to [0, 1].

    `alpha` may be a Python float or a 0-d tensor. Pass a tensor (a buffer updated
    in place) when alpha changes during training: a float is a constant to dynamo
    and a new value can cost a recompile. With `detach_host` the host leg carries
    no gradient, so the blend cannot push the host's upstream layers.
    """
    host_path = host_features.detach() if detach_host else host_features
    if isinstance(alpha, torch.Tensor):
        weight = alpha.clamp(0.0, 1.0).to(dtype=host_features.dtype)
        return torch.lerp(host_path, seed_features, weight)
    # Dynamo turns a float that changes between calls into a symbolic value, which
    # math.isnan cannot trace: validate in eager only.
    if not torch.compiler.is_compiling() and math.isnan(alpha):
        raise ValueError("alpha must be a number in [0, 1], got nan")
    # The float becomes a 0-d tensor by multiplication and is clamped as a tensor. The
    # other ways re-specialize a dynamic float under aot_eager and inductor, so that
    # every new alpha recompiles: min/max of the float (torch 2.11), torch.as_tensor,
    # torch.full or torch.scalar_tensor of it (2.11 and 2.13), lerp's Scalar weight (2.13).
    weight = host_path.new_ones(()).mul(alpha).clamp(0.0, 1.0)
    return host_path + (seed_features - host_path) * weight


@dataclass(frozen=True, slots=True)
class AlphaSchedule:
    """A sigmoid ramp from `start` to `end` over `total_steps` steps.

    `temperature` sets the steepness (1.0 spans -6..+6 logits across the ramp;
    larger is steeper). The curve is rescaled so that step 0 gives exactly
    `start` and step `total_steps` exactly `end`.
    """

    total_steps: int
    start: float = 0.0
    end: float = 1.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.total_steps, int) or self.total_steps < 1:
            raise ValueError(f"total_steps must be a positive int, got {self.total_steps!r}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not (0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        if not (self.temperature > 0.0 and math.isfinite(self.temperature)):
            raise ValueError(
                f"temperature must be a positive finite number, got {self.temperature!r}"
            )

    def _sigmoid(self, progress: float) -> float:
        # Centre the sigmoid on the middle of the ramp; 6 logits each side is ~0.25% from flat.
        return 1.0 / (1.0 + math.exp(-self.temperature * 12.0 * (progress - 0.5)))

    def __call__(self, step: int) -> float:
        progress = min(max(step / self.total_steps, 0.0), 1.0)
        low, high = self._sigmoid(0.0), self._sigmoid(1.0)
        fraction = (self._sigmoid(progress) - low) / (high - low)
        return self.start + (self.end - self.start) * fraction


def _total_norm(parameters: list[nn.Parameter], device: torch.device) -> torch.Tensor:
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros((), device=device)
    norms = torch._foreach_norm(grads)  # one fused kernel per device instead of one per tensor
    return torch.linalg.vector_norm(torch.stack([n.to(device) for n in norms]))


class GradientIsolationMonitor:
    """Checks, after a backward, that the host received no gradient through the seed.

    Use it where the host must stay still while the seed learns (for example a
    frozen host, or a seed loss computed on detached features): a host gradient
    norm above `threshold` counts as a violation.
    """

    def __init__(self, threshold: float = 1e-6) -> None:
        if not threshold >= 0.0:
            raise ValueError(f"threshold must be >= 0, got {threshold!r}")
        self.threshold = float(threshold)
        self._host_params: list[nn.Parameter] = []
        self._seed_params: list[nn.Parameter] = []
        self.violations = 0

    def register(
        self, host: nn.Module | Iterable[nn.Parameter], seed: nn.Module | Iterable[nn.Parameter]
    ) -> None:
        """Remember which parameters belong to the host and which to the seed."""
        seed_params = list(seed.parameters() if isinstance(seed, nn.Module) else seed)
        seed_ids = {id(p) for p in seed_params}
        host_iter = host.parameters() if isinstance(host, nn.Module) else host
        # A seed grafted into a host is also one of its submodules: keep it out of the host set.
        self._host_params = [p for p in host_iter if id(p) not in seed_ids]
        self._seed_params = seed_params

    def check_isolation(self) -> tuple[bool, dict[str, float | bool | int]]:
        """Return (isolated, stats) with one device-to-host copy for both norms."""
        params = self._host_params or self._seed_params
        device = params[0].device if params else torch.device("cpu")
        both = torch.stack(
            [_total_norm(self._host_params, device), _total_norm(self._seed_params, device)]
        )
        host_norm, seed_norm = both.tolist()  # the single sync of this call
        isolated = host_norm <= self.threshold
        if not isolated:
            self.violations += 1
        return isolated, {
            "host_grad_norm": host_norm,
            "seed_grad_norm": seed_norm,
            "isolated": isolated,
            "violations": self.violations,
        }

    def reset(self) -> None:
        """Forget the registered parameters and the violation count."""
        self._host_params = []
        self._seed_params = []
        self.violations = 0
