"""Building the workloads of :mod:`benchmarks.specs` from esper's hosts, as timed steps.

This is the only file of the package that imports esper. Each builder returns a fresh
step with its own model, inputs and optimizer, seeded so that every build of a variant
starts from the same weights; the compiled steps compile on their first call.

What is compiled: the module's forward (with the loss, for a training step). The
optimizer step runs eagerly in both modes, as in nanoGPT's train.py, so the comparison is
the one a user makes when wrapping a model in torch.compile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.config import MeasureConfig
from benchmarks.modes import CompileMode, autocast_context, compile_module, make_runner
from benchmarks.specs import CnnSize, Task, Topology, TransformerSize, Variant, WorkloadSpec
from esper.kasmina.blueprints import BlueprintRegistry
from esper.kasmina.host import CNNHost, MorphogeneticModel, TransformerHost
from esper.kasmina.slot import SeedSlot
from esper.kasmina.staging import drive_to_stage
from esper.leyline import SeedStage

Step = Callable[[], Any]

SEED_STAGE_AND_ALPHA: dict[Variant, tuple[SeedStage, float]] = {
    Variant.SEED_TRAINING: (SeedStage.TRAINING, 0.0),  # STE: output equals the host's
    Variant.SEED_BLENDING: (SeedStage.BLENDING, 0.5),
    Variant.SEED_FOSSILIZED: (SeedStage.FOSSILIZED, 1.0),
}


def _make_host(spec: WorkloadSpec) -> CNNHost | TransformerHost:
    size = spec.config
    if isinstance(size, CnnSize):
        return CNNHost(
            num_classes=size.num_classes, n_blocks=size.n_blocks, base_channels=size.base_channels
        )
    return TransformerHost(
        vocab_size=size.vocab_size,
        n_embd=size.n_embd,
        n_head=size.n_head,
        n_layer=size.n_layer,
        block_size=size.block_size,
        dropout=size.dropout,
    )


def build_host_model(spec: WorkloadSpec, device: torch.device) -> nn.Module:
    """The host in the spec's variant, on ``device``.

    Every variant but the bare one has a SeedSlot at each injection point; the seed
    variants grow one seed in the first slot and leave the others dormant, so comparing
    a seed variant with the dormant one isolates what the seed costs.
    """
    if spec.variant is Variant.SEED_ALONE:
        raise ValueError("seed-alone has no host; StepBuilder builds the seed on its own")
    host = _make_host(spec)
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
    assert isinstance(size, TransformerSize)
    shape = (size.batch_size, size.seq_len)
    tokens = torch.randint(0, size.vocab_size, shape, generator=generator)
    targets = torch.randint(0, size.vocab_size, shape, generator=generator)
    return tokens.to(device), targets.to(device)


def seed_feature_shape(spec: WorkloadSpec, device: torch.device) -> tuple[int, ...]:
    """Shape of the features the first injection point carries for this spec's input."""
    host = _make_host(spec).to(device)
    first_point = next(iter(host.injection_points))
    captured: list[tuple[int, ...]] = []
    hook = host.slots[first_point].register_forward_pre_hook(
        lambda _module, args: captured.append(tuple(args[0].shape))
    )
    inputs, _ = make_inputs(spec, device, seed=0)
    with torch.no_grad():
        host.eval()(inputs)
    hook.remove()
    return captured[0]


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


class SeedAloneLoss(nn.Module):
    """The seed on its own, with the simplest loss that sends a gradient to every output."""

    def __init__(self, seed: nn.Module) -> None:
        super().__init__()
        self.seed = seed

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.seed(features).float().sum()


@dataclass(frozen=True, slots=True, kw_only=True)
class StepBuilder:
    """Builds a fresh step for one spec in one mode; called per build, so compiles are fresh."""

    spec: WorkloadSpec
    mode: CompileMode
    config: MeasureConfig

    def __call__(self) -> Step:
        device = torch.device(self.config.device)
        torch.manual_seed(self.config.seed)
        if self.spec.variant is Variant.SEED_ALONE:
            return self._seed_alone(device)
        model = build_host_model(self.spec, device)
        inputs, targets = make_inputs(self.spec, device, self.config.seed)
        if self.spec.task is Task.INFERENCE:
            return self._inference(model, inputs, device)
        return self._train_step(model, inputs, targets, device)

    def _compile(self, module: nn.Module) -> nn.Module:
        return compile_module(
            module, self.mode, backend=self.config.backend, fullgraph=self.config.fullgraph
        )

    def _inference(self, model: nn.Module, inputs: torch.Tensor, device: torch.device) -> Step:
        model.eval()
        forward = self._compile(model)
        precision = self.config.precision

        def inference_step() -> torch.Tensor:
            with torch.no_grad(), autocast_context(precision, device):
                return forward(inputs)

        return make_runner(inference_step, self.mode, keep_output=False)

    def _train_step(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, device: torch.device
    ) -> Step:
        model.train()
        loss_fn = self._compile(LossHead(model, self.spec.topology))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        precision = self.config.precision

        def train_step() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            with autocast_context(precision, device):
                loss = loss_fn(inputs, targets)
            loss.backward()
            optimizer.step()
            return loss.detach()

        # A training loop keeps the loss (to log it), so reduce-overhead must clone it.
        return make_runner(train_step, self.mode, keep_output=True)

    def _seed_alone(self, device: torch.device) -> Step:
        size = self.spec.config
        seed = BlueprintRegistry.create(
            self.spec.topology.value, size.blueprint, _channels(size)
        ).to(device)
        generator = torch.Generator().manual_seed(self.config.seed)
        features = torch.randn(seed_feature_shape(self.spec, device), generator=generator).to(
            device
        )
        precision = self.config.precision
        if self.spec.task is Task.INFERENCE:
            seed.eval()
            forward = self._compile(seed)

            def seed_inference_step() -> torch.Tensor:
                with torch.no_grad(), autocast_context(precision, device):
                    return forward(features)

            return make_runner(seed_inference_step, self.mode, keep_output=False)
        seed.train()
        loss_fn = self._compile(SeedAloneLoss(seed))

        def seed_forward_backward() -> torch.Tensor:
            seed.zero_grad(set_to_none=True)
            with autocast_context(precision, device):
                loss = loss_fn(features)
            loss.backward()
            return loss.detach()

        return make_runner(seed_forward_backward, self.mode, keep_output=True)


def _channels(size: CnnSize | TransformerSize) -> int:
    """Channels at the first injection point (block 2 of the CNN, the residual stream)."""
    return size.base_channels * 2 if isinstance(size, CnnSize) else size.n_embd
