"""Host networks with injection points, and MorphogeneticModel that grafts a seed in.

Every injection point holds a module at all times (nn.Identity until a slot is
registered), so a host's forward is a straight loop with no per-call lookups
or branches on optional state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import torch
import torch.nn as nn
import torch.nn.functional as F

from esper.kasmina.slot import SeedSlot, SeedState


class _SlotHost(nn.Module):
    """Slot bookkeeping shared by the hosts: `self.slots` maps each point to a module."""

    topology: str
    _point_channels: dict[str, int]

    def _init_slots(self, point_channels: dict[str, int]) -> None:
        self._point_channels = dict(point_channels)
        self.slots = nn.ModuleDict({name: nn.Identity() for name in point_channels})

    @property
    def injection_points(self) -> dict[str, int]:
        """Injection point name -> number of feature channels there, in forward order."""
        return dict(self._point_channels)

    def _check_point(self, name: str) -> int:
        if name not in self._point_channels:
            raise ValueError(
                f"Unknown injection point: {name!r} ({type(self).__name__} has "
                f"{list(self._point_channels)})"
            )
        return self._point_channels[name]

    def register_slot(self, name: str, slot: nn.Module) -> None:
        """Put `slot` at injection point `name`. A SeedSlot must match its channel count."""
        channels = self._check_point(name)
        if not isinstance(slot, nn.Module):
            raise TypeError(f"slot must be an nn.Module, got {type(slot).__name__}")
        slot_channels = getattr(slot, "channels", channels)
        if slot_channels != channels:
            raise ValueError(
                f"slot for {name!r} has {slot_channels} channels; the point carries {channels}"
            )
        if isinstance(slot, SeedSlot):
            slot.bind_host(self)
        self.slots[name] = slot

    def unregister_slot(self, name: str) -> None:
        """Return injection point `name` to the identity."""
        self._check_point(name)
        self.slots[name] = nn.Identity()

    def seed_slots(self) -> dict[str, SeedSlot]:
        """The registered SeedSlots by injection point."""
        return {k: m for k, m in self.slots.items() if isinstance(m, SeedSlot)}


class _ConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)))


class CNNHost(_SlotHost):
    """A small VGG-style classifier: n_blocks of conv-BN-ReLU + 2x2 max-pool.

    Injection points `block{n}_post` follow every block but the first; block n
    has `base_channels * 2**(n-1)` channels.
    """

    topology = "cnn"
    in_channels = 3

    def __init__(self, num_classes: int = 10, n_blocks: int = 3, base_channels: int = 32) -> None:
        super().__init__()
        if not isinstance(n_blocks, int) or n_blocks < 2:
            raise ValueError(
                f"n_blocks must be an int >= 2 (block 1 has no injection point), got {n_blocks!r}"
            )
        if num_classes < 1 or base_channels < 1:
            raise ValueError(
                "num_classes and base_channels must be >= 1, "
                f"got {num_classes!r}, {base_channels!r}"
            )
        self.num_classes = num_classes
        self.n_blocks = n_blocks
        widths = [base_channels * 2**i for i in range(n_blocks)]
        self.blocks = nn.ModuleList(
            _ConvBlock(c_in, c_out)
            # the input list is one longer: the last width feeds no further block
            for c_in, c_out in zip([self.in_channels, *widths], widths, strict=False)
        )
        self.pool = nn.MaxPool2d(2)
        self.classifier = nn.Linear(widths[-1], num_classes)
        self._init_slots({f"block{n}_post": widths[n - 1] for n in range(2, n_blocks + 1)})
        # Per block: the slot key after it, or None. A tuple, so dynamo treats it as a constant.
        self._slot_keys: tuple[str | None, ...] = (None,) + tuple(self._point_channels)

    def validate_input(self, x: torch.Tensor) -> None:
        """Raise ValueError unless x is (B, 3, H, W) floating point with H, W >= 2**n_blocks."""
        min_side = 2**self.n_blocks
        if x.dim() != 4 or x.shape[1] != self.in_channels or not x.is_floating_point():
            raise ValueError(
                f"CNNHost expects a floating-point (B, {self.in_channels}, H, W) tensor, "
                f"got {x.dtype} of shape {tuple(x.shape)}"
            )
        if min(x.shape[2], x.shape[3]) < min_side:
            raise ValueError(
                f"CNNHost with n_blocks={self.n_blocks} needs H and W >= {min_side}, "
                f"got {tuple(x.shape[2:])}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.validate_input(x)
        for block, key in zip(self.blocks, self._slot_keys, strict=True):
            x = self.pool(block(x))  # (B, C_n, H / 2**n, W / 2**n)
            if key is not None:
                x = self.slots[key](x)
        return self.classifier(x.mean(dim=(2, 3)))  # (B, num_classes)


class _CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.n_head = n_head
        self.dropout = dropout
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True
        )  # (B, nh, T, hs)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))


class _Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = _CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd),
            nn.GELU(),
            nn.Linear(4 * n_embd, n_embd),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TransformerHost(_SlotHost):
    """A GPT-style decoder with a tied LM head; injection point `layer_{i}_post_block`
    follows every block."""

    topology = "transformer"

    def __init__(
        self,
        vocab_size: int = 50257,
        n_embd: int = 384,
        n_head: int = 6,
        n_layer: int = 6,
        block_size: int = 256,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("n_layer", n_layer),
            ("block_size", block_size),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if n_head < 1 or n_embd % n_head != 0:
            raise ValueError(f"n_embd ({n_embd}) must be a positive multiple of n_head ({n_head})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.vocab_size = vocab_size
        self.n_embd = n_embd
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self._init_slots({f"layer_{i}_post_block": n_embd for i in range(n_layer)})
        self._slot_keys: tuple[str, ...] = tuple(self._point_channels)
        self.apply(self._init_weights)

    # The original package's names for the same modules. Properties, not attributes:
    # an attribute alias would register the module twice and add state_dict keys.
    @property
    def tok_emb(self) -> nn.Embedding:
        return self.wte

    @property
    def pos_emb(self) -> nn.Embedding:
        return self.wpe

    @property
    def layers(self) -> nn.ModuleList:
        return self.blocks

    @property
    def head(self) -> nn.Linear:
        return self.lm_head

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def validate_input(self, idx: torch.Tensor) -> None:
        """Raise ValueError unless idx is (B, T) integer token ids with 1 <= T <= block_size."""
        if idx.dim() != 2 or idx.is_floating_point() or idx.is_complex():
            raise ValueError(
                f"TransformerHost expects (B, T) integer token ids, got {idx.dtype} "
                f"of shape {tuple(idx.shape)}"
            )
        T = idx.shape[1]
        if T > self.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.block_size}")
        if T < 1:
            raise ValueError("cannot forward an empty sequence (T = 0)")

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        self.validate_input(idx)
        T = idx.shape[1]
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, n_embd)
        for block, key in zip(self.blocks, self._slot_keys, strict=True):
            x = self.slots[key](block(x))
        return self.lm_head(self.ln_f(x))  # (B, T, vocab_size)


class MorphogeneticModel(nn.Module):
    """A host with one SeedSlot at `slot_id` (default: the first injection point).

    The slot lives inside the host (`host.slots[slot_id]`), so the state dict
    holds it once; `seed_slot` is a shortcut to it.
    """

    def __init__(
        self,
        host: Any,
        device: torch.device | str = "cpu",
        slot_id: str | None = None,
        task_config: Any = None,
        fast_mode: bool = False,
    ) -> None:
        super().__init__()
        points = host.injection_points
        if not points:
            raise ValueError(f"{type(host).__name__} has no injection points")
        slot_id = slot_id if slot_id is not None else next(iter(points))
        if slot_id not in points:
            raise ValueError(
                f"Unknown injection point: {slot_id!r} ({type(host).__name__} has {list(points)})"
            )
        self.host: Any = host  # any HostProtocol implementation
        self.slot_id = slot_id
        slot = SeedSlot(
            slot_id,
            channels=points[slot_id],
            device=device,
            task_config=task_config,
            fast_mode=fast_mode,
        )
        host.register_slot(slot_id, slot)
        self.to(device)

    @property
    def seed_slot(self) -> SeedSlot:
        return cast(SeedSlot, self.host.slots[self.slot_id])

    @property
    def device(self) -> torch.device:
        # Read from the model itself, so .to()/.cuda() never leave it stale.
        return self.seed_slot.device

    def validate_input(self, x: torch.Tensor) -> None:
        self.host.validate_input(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.host(x)

    def germinate_seed(
        self, blueprint_id: str, seed_id: str | None = None, **kwargs: Any
    ) -> SeedState:
        return self.seed_slot.germinate(blueprint_id, seed_id, host_module=self.host, **kwargs)

    def cull_seed(self, reason: str = "") -> bool:
        return self.seed_slot.cull(reason)

    def get_seed_parameters(self) -> Iterator[nn.Parameter]:
        return self.seed_slot.get_parameters()

    def get_host_parameters(self) -> Iterator[nn.Parameter]:
        """The host's own parameters, without any seed's."""
        seed_ids = {
            id(p) for slot in self.host.seed_slots().values() for p in slot.get_parameters()
        }
        return (p for p in self.host.parameters() if id(p) not in seed_ids)

    @property
    def has_active_seed(self) -> bool:
        return self.seed_slot.is_active

    @property
    def seed_state(self) -> SeedState | None:
        return self.seed_slot.state

    @property
    def active_seed_params(self) -> int:
        return self.seed_slot.active_seed_params
