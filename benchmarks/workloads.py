"""Building the workloads of :mod:`benchmarks.specs` from esper's hosts, as timed steps.

This is the only file of the package that imports esper. Each builder returns a fresh
step with its own model, inputs and optimizer, seeded so that every build of a variant
starts from the same weights; the compiled steps compile on their first call.

What is compiled: the module's forward (with the loss, for a training step). The
optimizer step runs eagerly in both modes, as in nanoGPT's train.py, so the comparison is
the one a user makes when wrapping a model in torch.compile; the optimizer lever
(benchmarks.levers) can fuse it or compile it too. An eager candidate asked for a compiled
optimizer runs torch's default step: eager has no compiler to put it in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.levers import make_optimizer, padded_vocab, scoped_levers
from benchmarks.modes import autocast_context, compile_module, make_runner
from benchmarks.specs import CnnSize, Topology, TransformerSize, Variant, WorkloadSpec
from esper.kasmina.blueprints import BlueprintRegistry
from esper.kasmina.host import CNNHost, MorphogeneticModel, TransformerHost
from esper.kasmina.slot import SeedSlot
from esper.kasmina.staging import drive_to_stage
from esper.leyline import SeedStage
from reporting.schema.benchmark_settings import (
    MeasureConfig,
    OptimizerStep,
    SdpaKernel,
    WorkloadOptions,
)
from reporting.schema.vocabulary import CompileMode, Task

Step = Callable[[], Any]

SEED_STAGE_AND_ALPHA: dict[Variant, tuple[SeedStage, float]] = {
    Variant.SEED_TRAINING: (SeedStage.TRAINING, 0.0),  # STE: output equals the host's
    Variant.SEED_BLENDING: (SeedStage.BLENDING, 0.5),
    Variant.SEED_FOSSILIZED: (SeedStage.FOSSILIZED, 1.0),
}


def _make_host(spec: WorkloadSpec, pad_vocab: bool = False) -> CNNHost | TransformerHost:
    size = spec.config
    if isinstance(size, CnnSize):
        return CNNHost(
            num_classes=size.num_classes, n_blocks=size.n_blocks, base_channels=size.base_channels
        )
    # Padding widens the embedding and the tied head; tokens are still drawn from the
    # unpadded vocabulary (make_inputs), so the extra rows are never a target.
    return TransformerHost(
        vocab_size=padded_vocab(size.vocab_size) if pad_vocab else size.vocab_size,
        n_embd=size.n_embd,
        n_head=size.n_head,
        n_layer=size.n_layer,
        block_size=size.block_size,
        dropout=size.dropout,
    )


def build_host_model(
    spec: WorkloadSpec, device: torch.device, options: WorkloadOptions | None = None
) -> nn.Module:
    """The host in the spec's variant, on ``device``.

    Every variant but the bare one has a SeedSlot at each injection point; the seed
    variants grow one seed in the first slot and leave the others dormant, so comparing
    a seed variant with the dormant one isolates what the seed costs.
    """
    if spec.variant is Variant.SEED_ALONE:
        raise ValueError("seed-alone has no host; StepBuilder builds the seed on its own")
    options = options or WorkloadOptions()
    host = _make_host(spec, pad_vocab=options.pad_vocab)
    if spec.variant is Variant.BARE:
        return _to_storage(host.to(device), options)
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
    return _to_storage(model.to(device), options)


def _to_storage(module: nn.Module, options: WorkloadOptions) -> nn.Module:
    """Pure bf16: parameters and buffers stored in bf16 (autocast, if on, still applies)."""
    return module.to(torch.bfloat16) if options.pure_bf16 else module


def _input_dtype(tensor: torch.Tensor, options: WorkloadOptions) -> torch.Tensor:
    """Float inputs follow bf16 weights; token ids stay integers."""
    if options.pure_bf16 and tensor.is_floating_point():
        return tensor.to(torch.bfloat16)
    return tensor


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
    options: WorkloadOptions | None = None  # None: the run's options (config.options)

    @property
    def levers(self) -> WorkloadOptions:
        return self.options if self.options is not None else self.config.options

    def __call__(self) -> Step:
        device = torch.device(self.config.device)
        torch.manual_seed(self.config.seed)
        if self.spec.variant is Variant.SEED_ALONE:
            return self._with_levers(self._seed_alone(device), device)
        model = build_host_model(self.spec, device, self.levers)
        inputs, targets = make_inputs(self.spec, device, self.config.seed)
        inputs = _input_dtype(inputs, self.levers)
        if self.spec.task is Task.INFER:
            return self._with_levers(self._inference(model, inputs, device), device)
        return self._with_levers(self._train_step(model, inputs, targets, device), device)

    def _with_levers(self, step: Step, device: torch.device) -> Step:
        """The step inside the levers' scoped settings, when a lever needs any."""
        levers = self.levers
        if not (levers.tf32 and device.type == "cuda") and levers.sdpa is SdpaKernel.AUTO:
            return step

        def step_with_levers() -> Any:
            with scoped_levers(levers, device):
                return step()

        return step_with_levers

    def _compile(self, module: nn.Module) -> nn.Module:
        return compile_module(
            module,
            self.mode,
            backend=self.config.backend,
            fullgraph=self.config.fullgraph,
            inductor_options=self.levers.inductor_options() if self.mode.compiled else None,
        )

    def _optimizer_step(self, parameters: list[nn.Parameter]) -> Callable[[], Any]:
        """optimizer.step, fused or compiled as the lever asks (compiled only when self is)."""
        choice = self.levers.optimizer
        optimizer = make_optimizer(parameters, choice)
        if choice is OptimizerStep.COMPILED and self.mode.compiled:
            # torch's recipe for a compiled optimizer: the step in its own compiled function,
            # in the candidate's mode, so that under reduce-overhead it is graphed as well.
            kwargs: dict[str, Any] = {"backend": self.config.backend, "fullgraph": False}
            if self.config.backend == "inductor":
                kwargs["mode"] = self.mode.value
            return torch.compile(optimizer.step, **kwargs)
        return optimizer.step

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
        parameters = list(model.parameters())
        optimizer_step = self._optimizer_step(parameters)
        precision = self.config.precision

        def train_step() -> torch.Tensor:
            for parameter in parameters:  # zero_grad(set_to_none=True), whatever the optimizer
                parameter.grad = None
            with autocast_context(precision, device):
                loss = loss_fn(inputs, targets)
            loss.backward()
            optimizer_step()
            return loss.detach()

        # A training loop keeps the loss (to log it), so reduce-overhead must clone it.
        return make_runner(train_step, self.mode, keep_output=True)

    def _seed_alone(self, device: torch.device) -> Step:
        size = self.spec.config
        seed = _to_storage(
            BlueprintRegistry.create(self.spec.topology.value, size.blueprint, _channels(size)).to(
                device
            ),
            self.levers,
        )
        generator = torch.Generator().manual_seed(self.config.seed)
        features = torch.randn(seed_feature_shape(self.spec, device), generator=generator).to(
            device
        )
        features = _input_dtype(features, self.levers)
        precision = self.config.precision
        if self.spec.task is Task.INFER:
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
