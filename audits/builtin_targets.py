"""The built-in targets: every public module of esper. The only file that imports esper.

Configurations are deliberately small: the audit asks whether a module
compiles, recompiles and matches eager, which does not depend on its width,
and every target pays its compile time on a 2-core CPU.

Hosts, stages and lifecycles are compiled through esper's
`compile_with_validation`, the entry point esper documents for users. The
guard group compiles TransformerHost both ways (plain torch.compile too) and
with both guards of the original package (ValueError and assert), side by side; it is
informational: the run reports what torch does there and never fails on it.

PYTEST_DONT_REWRITE: the assert guard must reach dynamo as written, also when the audit
runs inside pytest with esper's plugin installed (pytest rewrites the asserts of a
plugin's distribution, and a rewritten assert is a graph break).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from audits.targets import (
    BadInput,
    BenchmarkSize,
    CompileFn,
    DistributedSpec,
    DynamicDim,
    Inputs,
    ScenarioStep,
    Target,
    batch_dims,
    torch_compile,
)
from benchmarks import CnnSize, TransformerSize
from esper.kasmina import (
    BlueprintRegistry,
    CNNHost,
    MorphogeneticModel,
    TransformerHost,
    blend_with_isolation,
    compile_with_validation,
    ste_forward,
)
from esper.kasmina.staging import DRIVEN_COUNTERFACTUAL, PERMISSIVE_GATES, drive_to_stage
from esper.leyline import SeedStage
from reporting.schema.distributed import Wrapper
from reporting.schema.shapes import DimKind
from reporting.schema.vocabulary import Task

# The benchmarks' host sizes, at the audit's scale.
CNN = CnnSize(
    name="audit",
    n_blocks=3,  # the smallest host with two injection points
    base_channels=8,  # block widths 8, 16, 32
    batch_size=2,
    image_size=16,  # 2**n_blocks * 2: the last block still sees 2x2 pixels
)
GPT = TransformerSize(
    name="audit",
    vocab_size=128,
    n_embd=32,
    n_head=2,
    n_layer=1,  # one block already runs every code path of the host and its slot
    block_size=16,
    dropout=0.0,  # dropout draws differ between eager and compiled kernels
    batch_size=2,
    seq_len=8,
)
SEED_DIM = 16  # feature width of the bare blueprint targets
STAGE_BLUEPRINT = {"cnn": "conv_light", "transformer": "lora"}
ALPHA_RAMP_STEPS = 20


# ----------------------------------------------------------------- hosts
# Called with no argument, the audit's sizes; with one, another size of the same host.
def _cnn_host(size: CnnSize = CNN) -> CNNHost:
    return CNNHost(**size.host_arguments())


def _transformer_host(
    size: TransformerSize = GPT, cls: type[TransformerHost] = TransformerHost
) -> TransformerHost:
    return cls(**size.host_arguments())


HOSTS: dict[str, Callable[..., nn.Module]] = {"cnn": _cnn_host, "transformer": _transformer_host}
HOST_NAMES = {"cnn": "CNNHost", "transformer": "TransformerHost"}


def _images(size: CnnSize = CNN, channels: int = 3) -> Inputs:
    return (torch.randn(size.batch_size, channels, size.image_size, size.image_size),)


def _tokens(size: TransformerSize = GPT, seq_len: int | None = None) -> Inputs:
    return (torch.randint(0, size.vocab_size, (size.batch_size, seq_len or size.seq_len)),)


HOST_INPUTS: dict[str, Callable[..., Inputs]] = {"cnn": _images, "transformer": _tokens}

# What varies between calls in real use: the batch, and a transformer's sequence length
# up to its block size.
SEQUENCE_DIMS = (
    DynamicDim(input=0, dim=0, kind=DimKind.BATCH),
    DynamicDim(input=0, dim=1, kind=DimKind.SEQUENCE, max_size=GPT.block_size),
)
HOST_DYNAMIC_DIMS: dict[str, tuple[DynamicDim, ...]] = {
    "cnn": batch_dims(0),
    "transformer": SEQUENCE_DIMS,
}

HOST_BAD_INPUTS: dict[str, tuple[BadInput, ...]] = {
    "cnn": (
        BadInput(
            name="wrong channel count",
            make_inputs=partial(_images, channels=4),
            raises=ValueError,
            match="expects",
        ),
    ),
    "transformer": (
        BadInput(
            name="sequence longer than block_size",
            make_inputs=partial(_tokens, seq_len=GPT.block_size + 1),
            raises=ValueError,
            match="block_size",
        ),
    ),
}


# On a GPU the audit's hosts above are launch-bound: a few thousand FLOPs per kernel, so
# eager and compiled both wait on launches and measured 1.00x on an H200 (torch 2.11). The
# host benchmarks there use these sizes instead: wide enough that the matmuls and convs,
# not the launches, set the time, and still seconds per target.
CNN_GPU = CnnSize(name="gpu", n_blocks=4, base_channels=64, batch_size=256, image_size=32)
GPT_GPU = TransformerSize(
    name="gpu",
    vocab_size=8192,
    n_embd=768,
    n_head=12,
    n_layer=2,
    block_size=512,
    batch_size=8,
    seq_len=512,
)


GPU_SIZES: dict[str, tuple[CnnSize | TransformerSize, str]] = {
    "cnn": (CNN_GPU, f"{CNN_GPU.base_channels}-channel base, batch {CNN_GPU.batch_size}"),
    "transformer": (
        GPT_GPU,
        f"{GPT_GPU.n_embd} wide, {GPT_GPU.batch_size} x {GPT_GPU.seq_len} tokens",
    ),
}


def host_benchmark_size(topology: str, device: str) -> BenchmarkSize:
    """The audit's size on CPU (compiling there already pays at it); a GPU size on CUDA."""
    if torch.device(device).type != "cuda":
        return BenchmarkSize(
            label="audit size",
            build=HOSTS[topology],
            make_inputs=HOST_INPUTS[topology],
            launch_bound=False,
        )
    size, label = GPU_SIZES[topology]
    return BenchmarkSize(
        label=f"GPU size: {label}",
        build=partial(HOSTS[topology], size),
        make_inputs=partial(HOST_INPUTS[topology], size),
        launch_bound=False,
    )


# ----------------------------------------------------------------- isolation
class _Function(nn.Module):
    """Lets a plain function be audited like a module."""

    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any) -> torch.Tensor:
        return self.fn(*args)


class _BlendAtFloatAlpha(nn.Module):
    """blend_with_isolation with alpha held as a plain Python float attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.alpha = 0.3

    def forward(self, host: torch.Tensor, seed: torch.Tensor) -> torch.Tensor:
        return blend_with_isolation(host, seed, self.alpha)


def _set_float_alpha(value: float, module: nn.Module) -> None:
    module.alpha = value  # type: ignore[assignment]  # a plain float attribute, on purpose


FLOAT_ALPHA_RAMP = tuple(
    ScenarioStep(name=f"alpha {a}", action=partial(_set_float_alpha, a))
    for a in (0.1, 0.3, 0.5, 0.7, 0.9)
)


def _features() -> tuple[torch.Tensor, torch.Tensor]:
    host = torch.randn(4, SEED_DIM, requires_grad=True)
    seed = torch.randn(4, SEED_DIM, requires_grad=True)
    return host, seed


def isolation_targets() -> list[Target]:
    features = partial(Target, group="isolation", dynamic_dims=batch_dims(0, 1))
    return [
        features(
            name="isolation/ste_forward",
            build=partial(_Function, ste_forward),
            make_inputs=_features,
            description="ste_forward(host, seed)",
        ),
        features(
            name="isolation/blend_float_alpha",
            build=_BlendAtFloatAlpha,
            make_inputs=_features,
            description="blend_with_isolation(host, seed, alpha) with a Python float alpha "
            "that moves every step (0.3, then 0.1 .. 0.9)",
            scenario=FLOAT_ALPHA_RAMP,
            # the first compile, plus one when dynamo turns the float dynamic
            recompile_budget=2,
        ),
        features(
            name="isolation/blend_tensor_alpha",
            build=partial(_Function, blend_with_isolation),
            make_inputs=lambda: (*_features(), torch.tensor(0.3)),
            description="blend_with_isolation(host, seed, torch.tensor(0.3))",
        ),
    ]


# ----------------------------------------------------------------- blueprints
def _seed_inputs(topology: str) -> Inputs:
    if topology == "cnn":
        return (torch.randn(2, SEED_DIM, 8, 8),)
    return (torch.randn(2, GPT.seq_len, SEED_DIM),)


# Per-blueprint constructor arguments. FlexAttention's CUDA kernels need a head dim of
# at least 16: one head over SEED_DIM gives exactly that, so on CUDA the audit compiles
# FlexAttention itself, not the seed's scaled_dot_product_attention fallback.
BLUEPRINT_KWARGS: dict[tuple[str, str], dict[str, Any]] = {
    ("transformer", "flex_attention"): {"n_head": 1},
}


def _blueprint(topology: str, name: str) -> nn.Module:
    return BlueprintRegistry.create(
        topology, name, SEED_DIM, **BLUEPRINT_KWARGS.get((topology, name), {})
    )


def _flex_kernel_note(kwargs: dict[str, Any]) -> str:
    """Which kernel the FlexAttention seed of this size uses, per device (`attention_kernel`)."""
    # Only listed, hence only called, where torch provides FlexAttention.
    from esper.kasmina.blueprints.transformer import FlexAttentionSeed

    head_dim = SEED_DIM // kwargs["n_head"]
    by_device = ", ".join(
        f"{FlexAttentionSeed.kernel_for(device, head_dim).value} on {device}"
        for device in ("cuda", "cpu")
    )
    return f"; head dim {head_dim}: {by_device}"


def blueprint_targets() -> list[Target]:
    targets = []
    for topology in ("cnn", "transformer"):
        for spec in BlueprintRegistry.list_for_topology(topology):
            kwargs = BLUEPRINT_KWARGS.get((topology, spec.name), {})
            arguments = "".join(f", {key}={value!r}" for key, value in kwargs.items())
            note = _flex_kernel_note(kwargs) if spec.name == "flex_attention" else ""
            targets.append(
                Target(
                    name=f"blueprint/{topology}/{spec.name}",
                    build=partial(_blueprint, topology, spec.name),
                    make_inputs=partial(_seed_inputs, topology),
                    group="blueprint",
                    dynamic_dims=HOST_DYNAMIC_DIMS[topology],
                    description=f"BlueprintRegistry.create({topology!r}, {spec.name!r}, "
                    f"dim={SEED_DIM}{arguments}){note}",
                )
            )
    return targets


# ----------------------------------------------------------------- hosts with seeds
def _model(
    topology: str,
    stage: SeedStage | None = None,
    alpha: float | None = None,
    hosts: dict[str, Callable[[], nn.Module]] = HOSTS,
) -> MorphogeneticModel:
    """The host with a slot; its seed driven to `stage` (none: the slot stays empty)."""
    model = MorphogeneticModel(hosts[topology]())
    model.seed_slot.gates = PERMISSIVE_GATES  # the audit drives stages, it does not train
    if stage is not None:
        drive_to_stage(
            model.seed_slot,
            stage,
            blueprint_id=STAGE_BLUEPRINT[topology],
            alpha=alpha,
            host_module=model.host,
        )
    return model


STAGES: tuple[tuple[str, SeedStage, float | None], ...] = (
    ("dormant", SeedStage.DORMANT, None),
    ("training", SeedStage.TRAINING, 0.0),
    ("blending-0.3", SeedStage.BLENDING, 0.3),
    ("blending-0.7", SeedStage.BLENDING, 0.7),
    ("shadowing", SeedStage.SHADOWING, None),
    ("probationary", SeedStage.PROBATIONARY, None),
    ("fossilized", SeedStage.FOSSILIZED, None),
    ("culled", SeedStage.CULLED, None),
)


def host_targets() -> list[Target]:
    targets = []
    for topology in ("cnn", "transformer"):
        common: dict[str, Any] = dict(
            make_inputs=HOST_INPUTS[topology],
            bad_inputs=HOST_BAD_INPUTS[topology],
            compile=compile_with_validation,
            dynamic_dims=HOST_DYNAMIC_DIMS[topology],
        )
        targets.append(
            Target(
                name=f"host/{topology}",
                benchmark=True,
                benchmark_size=partial(host_benchmark_size, topology),
                build=HOSTS[topology],
                group="host",
                description=f"{HOST_NAMES[topology]} with no slot",
                **common,
            )
        )
        for label, stage, alpha in STAGES:
            targets.append(
                Target(
                    name=f"stage/{topology}/{label}",
                    build=partial(_model, topology, stage, alpha),
                    group="stage",
                    description=f"MorphogeneticModel({topology}) with a "
                    f"{STAGE_BLUEPRINT[topology]} seed in {stage.name}",
                    **common,
                )
            )
    return targets


# ----------------------------------------------------------------- lifecycle
# Scenario actions receive the module being audited; here always a MorphogeneticModel.
def _morphogenetic(model: nn.Module) -> MorphogeneticModel:
    if not isinstance(model, MorphogeneticModel):
        raise TypeError(f"lifecycle actions need a MorphogeneticModel, got {type(model).__name__}")
    return model


def _advance(stage: SeedStage, model: nn.Module) -> None:
    result = _morphogenetic(model).seed_slot.advance_stage(stage)
    if not result.passed:
        raise RuntimeError(f"gate refused {stage.name}: {result.message}")


def _germinate(topology: str, model: nn.Module) -> None:
    _morphogenetic(model).germinate_seed(STAGE_BLUEPRINT[topology], "seed-1")


def _start_blending(model: nn.Module) -> None:
    _advance(SeedStage.BLENDING, model)
    _morphogenetic(model).seed_slot.start_blending(total_steps=ALPHA_RAMP_STEPS)


def _fossilize(model: nn.Module) -> None:
    # G5 wants a measured counterfactual contribution; a training loop measures it with
    # slot.force_alpha(0.0), the audit supplies the one drive_to_stage uses.
    state = _morphogenetic(model).seed_slot.state
    if state is not None:
        state.metrics.counterfactual_contribution = DRIVEN_COUNTERFACTUAL
    _advance(SeedStage.FOSSILIZED, model)


def _alpha_step(step: int, model: nn.Module) -> None:
    _morphogenetic(model).seed_slot.update_alpha_for_step(step)


def lifecycle_scenario(topology: str) -> tuple[ScenarioStep, ...]:
    """germinate, TRAINING, BLENDING with a 20-step alpha ramp, SHADOWING, PROBATIONARY,
    FOSSILIZED: at most one compile per stage entered, none while alpha moves."""
    enter = partial(ScenarioStep, calls=2, max_compiles=1)
    ramp = tuple(
        ScenarioStep(name=f"alpha step {i}", action=partial(_alpha_step, i), max_compiles=0)
        for i in range(1, ALPHA_RAMP_STEPS + 1)
    )
    return (
        enter(name="germinate", action=partial(_germinate, topology)),
        enter(name="TRAINING", action=partial(_advance, SeedStage.TRAINING)),
        enter(name="BLENDING", action=_start_blending),
        *ramp,
        enter(name="SHADOWING", action=partial(_advance, SeedStage.SHADOWING)),
        enter(name="PROBATIONARY", action=partial(_advance, SeedStage.PROBATIONARY)),
        enter(name="FOSSILIZED", action=_fossilize),
    )


def lifecycle_targets() -> list[Target]:
    return [
        Target(
            name=f"lifecycle/{topology}",
            build=partial(_model, topology),
            make_inputs=HOST_INPUTS[topology],
            scenario=lifecycle_scenario(topology),
            # DORMANT plus the six stages the scenario enters.
            recompile_budget=7,
            compile=compile_with_validation,
            dynamic_dims=HOST_DYNAMIC_DIMS[topology],
            group="lifecycle",
            description=f"MorphogeneticModel({HOST_NAMES[topology]}) through its whole lifecycle",
        )
        for topology in ("cnn", "transformer")
    ]


# ----------------------------------------------------------------- the two guards
class AssertGuardTransformerHost(TransformerHost):
    """TransformerHost with the original package's guard: an assert, not a ValueError."""

    def validate_input(self, idx: torch.Tensor) -> None:
        T = idx.shape[1]
        assert T <= self.block_size, (
            f"Cannot forward sequence of length {T}, block size is only {self.block_size}"
        )


def guard_targets() -> list[Target]:
    variants: tuple[tuple[str, type[TransformerHost], type[BaseException]], ...] = (
        ("valueerror", TransformerHost, ValueError),
        ("assert", AssertGuardTransformerHost, AssertionError),
    )
    entry_points: tuple[tuple[str, CompileFn], ...] = (
        ("torch.compile", torch_compile),
        ("compile_with_validation", compile_with_validation),
    )
    return [
        Target(
            name=f"guard/{guard}/{entry}",
            build=partial(_transformer_host, GPT, host_cls),
            make_inputs=_tokens,
            bad_inputs=(
                BadInput(
                    name="sequence longer than block_size",
                    make_inputs=partial(_tokens, seq_len=GPT.block_size + 1),
                    raises=raises,
                ),
            ),
            compile=compile_fn,
            dynamic_dims=SEQUENCE_DIMS,
            modes=(Task.TRAIN, Task.INFER),
            group="guard",
            informational=True,
            description=f"TransformerHost, T > block_size guarded by {raises.__name__}, "
            f"compiled with {entry}",
        )
        for guard, host_cls, raises in variants
        for entry, compile_fn in entry_points
    ]


# ----------------------------------------------------------------- distributed
# torch.compile's DDPOptimizer refuses a bucket cap below its 1 MiB first bucket (torch
# 2.13 asserts "First bucket should be smaller/equal to other buckets"), so DDP splits a
# graph only for a module with more than 1 MiB of parameters: these hosts have about 1.4
# and 1.2 MiB, and a 1 MiB cap gives each two buckets. Wider layers cost the compile
# nothing; the ranks run on CPU.
CNN_DISTRIBUTED = dataclasses.replace(CNN, name="distributed", base_channels=64)  # 64-128-256
GPT_DISTRIBUTED = dataclasses.replace(GPT, name="distributed", vocab_size=4096, n_embd=64)
DISTRIBUTED_HOSTS: dict[str, Callable[[], nn.Module]] = {
    "cnn": partial(_cnn_host, CNN_DISTRIBUTED),
    "transformer": partial(_transformer_host, GPT_DISTRIBUTED),
}
DDP_BUCKET_CAP_MB = 1.0


def distributed_targets() -> list[Target]:
    """Both hosts with a seed in TRAINING, under DDP and FSDP2, two gloo ranks each."""
    specs = {
        Wrapper.DDP: DistributedSpec(
            wrapper=Wrapper.DDP, bucket_cap_mb=DDP_BUCKET_CAP_MB, min_graphs=2
        ),
        Wrapper.FSDP2: DistributedSpec(wrapper=Wrapper.FSDP2),
    }
    wrapped = {
        Wrapper.DDP: f"DistributedDataParallel(bucket_cap_mb={DDP_BUCKET_CAP_MB:g})",
        Wrapper.FSDP2: "fully_shard",
    }
    return [
        Target(
            name=f"distributed/{wrapper.value}/{topology}/training",
            build=partial(_model, topology, SeedStage.TRAINING, 0.0, DISTRIBUTED_HOSTS),
            make_inputs=HOST_INPUTS[topology],
            modes=(Task.TRAIN,),
            compile=compile_with_validation,
            distributed=spec,
            group="distributed",
            description=f"{wrapped[wrapper]}(compile_with_validation(MorphogeneticModel("
            f"{HOST_NAMES[topology]}))) with a {STAGE_BLUEPRINT[topology]} seed in TRAINING, "
            f"{spec.world_size} gloo ranks",
        )
        for wrapper, spec in specs.items()
        for topology in ("cnn", "transformer")
    ]


def builtin_targets() -> list[Target]:
    """Every built-in target, in the order the summary lists them."""
    return [
        *isolation_targets(),
        *blueprint_targets(),
        *host_targets(),
        *lifecycle_targets(),
        *guard_targets(),
    ]
