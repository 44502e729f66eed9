"""Seeds for transformer hosts: (B, T, C) -> (B, T, C).

Every seed is residual with a zero-initialised output projection: a fresh seed
is the identity, so germination does not move the host's output.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from esper.kasmina.blueprints.registry import BlueprintRegistry


def _zero_linear(in_features: int, out_features: int, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(in_features, out_features, bias=bias)
    nn.init.zeros_(layer.weight)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


def _head_count(dim: int, n_head: int | None) -> int:
    if n_head is None:
        return next(h for h in (8, 4, 2, 1) if dim % h == 0)
    if n_head < 1 or dim % n_head != 0:
        raise ValueError(f"n_head must be a positive divisor of dim={dim}, got {n_head!r}")
    return n_head


@BlueprintRegistry.register("norm", "transformer", 800)
class LayerNormSeed(nn.Module):
    """Residual LayerNorm with a zero-initialised gain."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.gain = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gain * self.norm(x)


@BlueprintRegistry.register("lora", "transformer", 6000)
class LoRASeed(nn.Module):
    """Low-rank residual update x + (alpha / rank) * up(down(x)); `up` starts at zero."""

    def __init__(self, dim: int, rank: int = 8, lora_alpha: float = 16.0) -> None:
        super().__init__()
        if not 1 <= rank <= dim:
            raise ValueError(f"rank must be in [1, dim={dim}], got {rank!r}")
        self.down = nn.Linear(dim, rank, bias=False)
        self.up = _zero_linear(rank, dim, bias=False)
        self.scale = lora_alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * self.up(self.down(x))


class _CausalSelfAttention(nn.Module):
    """Pre-norm causal self-attention whose output projection starts at zero."""

    def __init__(self, dim: int, n_head: int | None) -> None:
        super().__init__()
        self.n_head = _head_count(dim, n_head)
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = _zero_linear(dim, dim)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(self.norm(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = self._attend(q, k, v)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)
        return x + self.proj(y)


@BlueprintRegistry.register("attention", "transformer", 50000)
class AttentionSeed(_CausalSelfAttention):
    """Residual causal self-attention (scaled_dot_product_attention)."""

    def __init__(self, dim: int, n_head: int | None = None) -> None:
        super().__init__(dim, n_head)


@BlueprintRegistry.register("mlp", "transformer", 1200000)
class MLPSeed(nn.Module):
    """Residual pre-norm MLP; `checkpoint=True` recomputes it in backward to save memory."""

    def __init__(self, dim: int, expansion: int = 4, checkpoint: bool = False) -> None:
        super().__init__()
        if expansion < 1:
            raise ValueError(f"expansion must be >= 1, got {expansion!r}")
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, expansion * dim)
        self.proj = _zero_linear(expansion * dim, dim)
        # Chosen once here, not per call: the forward has no flag to branch on.
        self._mlp = self._checkpointed if checkpoint else self._plain
        self.uses_checkpoint = checkpoint

    def _plain(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(self.norm(x))))

    def _checkpointed(self, x: torch.Tensor) -> torch.Tensor:
        # Non-reentrant checkpointing is what dynamo traces as a single higher-order op.
        return checkpoint(self._plain, x, use_reentrant=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self._mlp(x)


def _flex_attention_available() -> bool:
    try:
        from torch.nn.attention.flex_attention import flex_attention  # noqa: F401
    except ImportError:
        return False
    return True


class AttentionKernel(str, Enum):
    """The attention implementation a FlexAttentionSeed computes with."""

    FLEX = "flex_attention"
    SDPA = "sdpa"


# FlexAttention's CUDA kernels (Triton's tl.dot) refuse smaller head dims: inductor raises
# "embedding dimension of the query, key, and value must be at least 16".
FLEX_MIN_HEAD_DIM = 16


def _sdpa_causal(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


if _flex_attention_available():
    from torch.nn.attention.flex_attention import flex_attention

    def _causal(score, batch, head, q_idx, kv_idx):  # noqa: ANN001 - flex_attention's signature
        return torch.where(q_idx >= kv_idx, score, -float("inf"))

    def _flex_causal(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return flex_attention(q, k, v, score_mod=_causal)

    @BlueprintRegistry.register("flex_attention", "transformer", 50000)
    class FlexAttentionSeed(_CausalSelfAttention):
        """Residual causal self-attention through FlexAttention where it trains (torch >= 2.5).

        FlexAttention trains only on CUDA, with a head dim of at least 16 that is a power
        of two: torch has no FlexAttention backward on CPU (2.11 and 2.13 raise
        NotImplementedError for inputs that need a gradient; 2.6 fails in inductor), its
        CUDA kernels refuse head dims below 16, and 2.6 refuses any that is not a power
        of two.
        Elsewhere the seed computes the same causal attention with
        scaled_dot_product_attention, so it trains wherever esper runs. `attention_kernel`
        says which kernel it uses; the choice is made at construction and again when the
        module moves (`.to(device)`), never per call. `kernel=` fixes the choice instead
        (e.g. "flex_attention" for inference on CPU, or "sdpa" on CUDA).
        """

        def __init__(
            self, dim: int, n_head: int | None = None, kernel: AttentionKernel | str | None = None
        ) -> None:
            super().__init__(dim, n_head)
            known = [k.value for k in AttentionKernel]
            if kernel is not None and kernel not in known:
                raise ValueError(f"kernel must be one of {known} or None, got {kernel!r}")
            self.head_dim = dim // self.n_head
            self._fixed_kernel = None if kernel is None else AttentionKernel(kernel)
            self._choose_kernel()

        @staticmethod
        def kernel_for(device: torch.device | str, head_dim: int) -> AttentionKernel:
            """The kernel a seed with this head dim uses on this device."""
            device_type = torch.device(device).type
            power_of_two = head_dim & (head_dim - 1) == 0
            if device_type == "cuda" and head_dim >= FLEX_MIN_HEAD_DIM and power_of_two:
                return AttentionKernel.FLEX
            return AttentionKernel.SDPA

        def _choose_kernel(self) -> None:
            self.attention_kernel = self._fixed_kernel or self.kernel_for(
                self.qkv.weight.device, self.head_dim
            )
            self._kernel: Callable[..., torch.Tensor] = (
                _flex_causal if self.attention_kernel is AttentionKernel.FLEX else _sdpa_causal
            )

        def _apply(self, fn, recurse=True):  # noqa: ANN001 - nn.Module._apply's signature
            # .to(), .cuda(), .cpu() and dtype casts all end here: choose again for the
            # device the parameters now live on.
            super()._apply(fn, recurse)
            self._choose_kernel()
            return self

        def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return self._kernel(q, k, v)
