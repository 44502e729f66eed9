"""The workloads of :mod:`benchmarks.specs` built from esper's hosts.

This is the only file of the package that imports esper. Every build makes its own model
and inputs, seeded so that every build of a variant starts from the same weights.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.specs import CnnSize, Topology, Variant, WorkloadSpec
from benchmarks.steps import OutputLoss, Workload, padded_vocab
from esper.kasmina.blueprints import BlueprintRegistry
from esper.kasmina.host import CNNHost, MorphogeneticModel, TransformerHost
from esper.kasmina.slot import SeedSlot
from esper.kasmina.staging import drive_to_stage
from esper.leyline import SeedStage
from reporting.schema.benchmark_settings import WorkloadOptions
from reporting.schema.vocabulary import Task

SEED_STAGE_AND_ALPHA: dict[Variant, tuple[SeedStage, float]] = {
    Variant.SEED_TRAINING: (SeedStage.TRAINING, 0.0),  # STE: output equals the host's
    Variant.SEED_BLENDING: (SeedStage.BLENDING, 0.5),
    Variant.SEED_FOSSILIZED: (SeedStage.FOSSILIZED, 1.0),
}


def make_host(spec: WorkloadSpec, pad_vocab: bool = False) -> CNNHost | TransformerHost:
    size = spec.config
    if isinstance(size, CnnSize):
        return CNNHost(**size.host_arguments())
    # Padding widens the embedding and the tied head; tokens are still drawn from the
    # unpadded vocabulary (make_inputs), so the extra rows are never a target.
    vocab_size = padded_vocab(size.vocab_size) if pad_vocab else size.vocab_size
    return TransformerHost(**{**size.host_arguments(), "vocab_size": vocab_size})


def build_host_model(
    spec: WorkloadSpec, device: torch.device, options: WorkloadOptions | None = None
) -> nn.Module:
    """The host in the spec's variant, on ``device``.

    Every variant but the bare one has a SeedSlot at each injection point; the seed
    variants grow one seed in the first slot and leave the others dormant, so comparing
    a seed variant with the dormant one isolates what the seed costs.
    """
    if spec.variant is Variant.SEED_ALONE:
        raise ValueError("seed-alone has no host; host_workload builds the seed on its own")
    host = make_host(spec, pad_vocab=(options or WorkloadOptions()).pad_vocab)
    if spec.variant is Variant.BARE:
        return host.to(device)
    model = MorphogeneticModel(host, device=device)
    for point, channels in host.injection_points.items():
        if point != model.slot_id:
            host.register_slot(point, SeedSlot(point, channels, device=device))
    if spec.variant is not Variant.DORMANT:
        stage, alpha = SEED_STAGE_AND_ALPHA[spec.variant]
        # Through the real transitions, so the slot is in the state training would leave.
        drive_to_stage(
            model.seed_slot,
            stage,
            blueprint_id=spec.config.blueprint,
            alpha=alpha,
            seed_id="bench-seed",
            host_module=host,
        )
    return model.to(device)


def make_inputs(
    spec: WorkloadSpec, device: torch.device, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input, target) for one call: images and labels, or token ids and next tokens."""
    generator = torch.Generator().manual_seed(seed)
    size = spec.config
    if isinstance(size, CnnSize):
        images = torch.randn(
            size.batch_size, 3, size.image_size, size.image_size, generator=generator
        )
        labels = torch.randint(0, size.num_classes, (size.batch_size,), generator=generator)
        return images.to(device), labels.to(device)
    shape = (size.batch_size, size.seq_len)
    tokens = torch.randint(0, size.vocab_size, shape, generator=generator)
    targets = torch.randint(0, size.vocab_size, shape, generator=generator)
    return tokens.to(device), targets.to(device)


def seed_features(spec: WorkloadSpec, device: torch.device, seed: int) -> torch.Tensor:
    """Random features shaped as the first injection point carries them for this spec."""
    host = make_host(spec).to(device)
    captured: list[tuple[int, ...]] = []
    hook = host.slots[next(iter(host.injection_points))].register_forward_pre_hook(
        lambda _module, args: captured.append(tuple(args[0].shape))
    )
    with torch.no_grad():
        host.eval()(make_inputs(spec, device, seed=0)[0])
    hook.remove()
    return torch.randn(captured[0], generator=torch.Generator().manual_seed(seed)).to(device)


class LossHead(nn.Module):
    """Forward and loss in one module, so the loss is compiled with the forward."""

    def __init__(self, model: nn.Module, topology: Topology) -> None:
        super().__init__()
        self.model = model
        self.flatten_tokens = topology is Topology.TRANSFORMER  # chosen once, not per call

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self.model(inputs)  # (B, classes) or (B, T, vocab)
        if self.flatten_tokens:
            return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        return F.cross_entropy(logits.float(), targets)


def host_workload(spec: WorkloadSpec, seed: int) -> Workload:
    """The spec as a workload; ``seed`` draws its inputs (the weights are seeded per build)."""
    training = spec.task is Task.TRAIN

    def host_parts(device: torch.device, options: WorkloadOptions) -> tuple[nn.Module, Any]:
        model = build_host_model(spec, device, options)
        inputs, targets = make_inputs(spec, device, seed)
        return (
            (LossHead(model, spec.topology), (inputs, targets)) if training else (model, (inputs,))
        )

    def seed_parts(device: torch.device, _options: WorkloadOptions) -> tuple[nn.Module, Any]:
        size = spec.config
        # Channels at the first injection point: block 2 of the CNN, the residual stream.
        channels = size.base_channels * 2 if isinstance(size, CnnSize) else size.n_embd
        module = BlueprintRegistry.create(spec.topology.value, size.blueprint, channels)
        features = seed_features(spec, device, seed)
        return (OutputLoss(module) if training else module).to(device), (features,)

    alone = spec.variant is Variant.SEED_ALONE
    return Workload(
        name=spec.name,
        group=spec.group,
        task=spec.task,
        variant=spec.variant.value,
        unit=spec.unit,
        items_per_call=spec.config.items_per_call,
        parts=seed_parts if alone else host_parts,
        optimize=not alone,
        detect_attention=spec.topology is Topology.TRANSFORMER and not alone,
    )
