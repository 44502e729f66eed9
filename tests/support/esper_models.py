"""Tiny hosts and models for the esper tests (fast on a 2-core CPU)."""

from __future__ import annotations

import torch

from esper.kasmina.host import CNNHost, MorphogeneticModel, TransformerHost

VOCAB = 64
BLOCK = 16


def tiny_host(topology: str) -> CNNHost | TransformerHost:
    if topology == "cnn":
        return CNNHost(num_classes=5, n_blocks=3, base_channels=8)
    return TransformerHost(
        vocab_size=VOCAB, n_embd=32, n_head=4, n_layer=2, block_size=BLOCK, dropout=0.0
    )


def tiny_input(topology: str, batch: int = 2) -> torch.Tensor:
    if topology == "cnn":
        return torch.randn(batch, 3, 16, 16)
    return torch.randint(0, VOCAB, (batch, 8))


def tiny_model(topology: str, **kwargs) -> MorphogeneticModel:
    return MorphogeneticModel(tiny_host(topology), **kwargs)


def loss_of(output: torch.Tensor) -> torch.Tensor:
    # A loss that weighs every output element differently, so gradients are informative.
    weights = torch.linspace(0.5, 1.5, output.numel(), dtype=output.dtype).view_as(output)
    return (output * weights).sum()


STAGES_UNDER_TEST = (
    # (label, stage, alpha): every stage the compile contract names
    ("dormant", "DORMANT", None),
    ("training", "TRAINING", 0.0),
    ("blending_0.3", "BLENDING", 0.3),
    ("blending_0.7", "BLENDING", 0.7),
    ("shadowing", "SHADOWING", None),
    ("probationary", "PROBATIONARY", None),
    ("fossilized", "FOSSILIZED", None),
    ("culled", "CULLED", None),
)


def perturb_seed(model: MorphogeneticModel, scale: float = 0.1) -> None:
    """Move a fresh (identity) seed off zero so that it really changes the features."""
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for p in model.get_seed_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)
