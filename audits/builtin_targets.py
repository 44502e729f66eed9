"""The built-in targets: every public module of esper. With audits.builtin_hosts (the
hosts they are made of), audits.guard_targets and audits.distributed.targets, the only
files of the audit that import esper.

Configurations are deliberately small: the audit asks whether a module
compiles, recompiles and matches eager, which does not depend on its width,
and every target pays its compile time on a 2-core CPU.

Hosts, stages and lifecycles are compiled through esper's
`compile_with_validation`, the entry point esper documents for users; the
guard group (audits.guard_targets) compiles TransformerHost both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from audits.builtin_hosts import (
    ALPHA_RAMP_STEPS,
    GPT,
    HOST_BAD_INPUTS,
    HOST_DYNAMIC_DIMS,
    HOST_INPUTS,
    HOST_NAMES,
    HOSTS,
    SEED_DIM,
    STAGE_BLUEPRINT,
    host_benchmark_size,
    seeded_model,
)
from audits.guard_targets import guard_targets
from audits.targets import Inputs, ScenarioStep, Target, batch_dims
from esper.kasmina import (
    BlueprintRegistry,
    MorphogeneticModel,
    blend_with_isolation,
    compile_with_validation,
    ste_forward,
)
from esper.kasmina.staging import DRIVEN_COUNTERFACTUAL
from esper.leyline import SeedStage


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
    shape = (2, SEED_DIM, 8, 8) if topology == "cnn" else (2, GPT.seq_len, SEED_DIM)
    return (torch.randn(*shape),)


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
                    build=partial(seeded_model, topology, stage, alpha),
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
            build=partial(seeded_model, topology),
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


def builtin_targets() -> list[Target]:
    """Every built-in target, in the order the summary lists them."""
    return [
        *isolation_targets(),
        *blueprint_targets(),
        *host_targets(),
        *lifecycle_targets(),
        *guard_targets(),
    ]
