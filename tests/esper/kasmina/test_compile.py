"""Compile contract: fullgraph in every stage, eager parity, no recompiles on the alpha ramp."""

import pytest
import torch
from support.esper_models import (
    STAGES_UNDER_TEST,
    loss_of,
    perturb_seed,
    tiny_input,
    tiny_model,
)
from torch._dynamo.testing import CompileCounterWithBackend

from esper.kasmina.blueprints import BlueprintRegistry
from esper.kasmina.compile import compile_with_validation
from esper.kasmina.staging import PERMISSIVE_GATES, drive_to_stage
from esper.leyline import SeedStage

CASES = [
    (topology, spec.name)
    for topology in ("cnn", "transformer")
    for spec in BlueprintRegistry.list_for_topology(topology)
]


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _check_parity(model, compiled, x, train, label):
    model.zero_grad(set_to_none=True)
    eager_out = model(x)
    if train:
        loss_of(eager_out).backward()
        eager_grads = _grads(model)
        model.zero_grad(set_to_none=True)
    compiled_out = compiled(x)
    torch.testing.assert_close(
        compiled_out, eager_out, rtol=1e-5, atol=1e-5, msg=lambda m: f"{label}: {m}"
    )
    if train:
        loss_of(compiled_out).backward()
        compiled_grads = _grads(model)
        assert compiled_grads.keys() == eager_grads.keys(), label
        for name in eager_grads:
            torch.testing.assert_close(
                compiled_grads[name],
                eager_grads[name],
                rtol=1e-4,
                atol=1e-5,
                msg=lambda m, name=name: f"{label} {name}: {m}",
            )


def _compile_and_compare(topology, blueprint, train, stages):
    torch.manual_seed(0)
    x = tiny_input(topology)
    for label, stage_name, alpha in stages:
        model = tiny_model(topology).train(train)
        drive_to_stage(
            model.seed_slot,
            SeedStage[stage_name],
            blueprint_id=blueprint,
            alpha=alpha,
            host_module=model.host,
        )
        perturb_seed(model)
        counter = CompileCounterWithBackend("aot_eager")
        compiled = torch.compile(model, fullgraph=True, backend=counter)
        with torch.set_grad_enabled(train):
            _check_parity(model, compiled, x, train, f"{topology}/{blueprint}/{label}")
        assert counter.frame_count == 1, label


# The slot's forward takes one of three paths (SeedSlot._refresh_forward_flags): the host
# alone, the straight-through estimator (TRAINING at alpha 0), or the blend (every other
# stage the seed runs in; alpha is a buffer, so its value is not part of the graph). The
# walk through every stage runs once per topology; every blueprint then runs through the
# two paths its own code is on. Walking all eight stages for every blueprint compiled the
# same graphs four times over (about 2 minutes of the default run).
WALK_CASES = [("cnn", "norm"), ("transformer", "lora")]
SEED_PATHS = tuple(s for s in STAGES_UNDER_TEST if s[0] in ("training", "blending_0.3"))
MODES = [True, pytest.param(False, marks=pytest.mark.slow)]


@pytest.mark.parametrize("train", MODES, ids=["train", "eval"])
@pytest.mark.parametrize(
    "topology, blueprint",
    # The fast loop (-m "not slow") keeps the CNN walk in train mode.
    [pytest.param(*c, marks=() if c[0] == "cnn" else pytest.mark.slow) for c in WALK_CASES],
    ids=[f"{t}-{b}" for t, b in WALK_CASES],
)
def test_fullgraph_parity_in_every_stage(topology, blueprint, train):
    """In each stage the model compiles as one graph and matches eager outputs and grads."""
    _compile_and_compare(topology, blueprint, train, STAGES_UNDER_TEST)


def test_the_seed_paths_cover_both_forward_branches():
    """SEED_PATHS holds one stage on the straight-through path and one on the blend path."""
    paths = set()
    for _, stage_name, alpha in SEED_PATHS:
        slot = tiny_model("cnn").seed_slot
        drive_to_stage(slot, SeedStage[stage_name], blueprint_id="norm", alpha=alpha)
        paths.add((slot._seed_runs, slot._use_ste))  # the two flags the forward reads
    assert paths == {(True, True), (True, False)}


@pytest.mark.slow
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("topology, blueprint", CASES, ids=[f"{t}-{b}" for t, b in CASES])
def test_every_blueprint_compiles_and_matches_eager_on_both_seed_paths(topology, blueprint, train):
    """Straight-through (TRAINING) and blend (BLENDING): fullgraph, eager outputs and grads."""
    _compile_and_compare(topology, blueprint, train, SEED_PATHS)


@pytest.mark.parametrize("topology", ["cnn", pytest.param("transformer", marks=pytest.mark.slow)])
def test_lifecycle_compiles_once_per_stage_and_never_on_the_ramp(topology):
    """Germinate -> TRAINING -> 20 alpha steps -> SHADOWING -> PROBATIONARY -> FOSSILIZED."""
    torch.manual_seed(0)
    model = tiny_model(topology)
    slot = model.seed_slot
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(model, fullgraph=True, backend=counter)
    x = tiny_input(topology)
    compiles_by_stage = {}

    def step(stage):
        before = counter.frame_count
        loss_of(compiled(x)).backward()
        compiles_by_stage[stage] = compiles_by_stage.get(stage, 0) + counter.frame_count - before

    model.germinate_seed("norm" if topology == "cnn" else "lora", "s1")
    step("GERMINATED")
    slot.advance_stage(SeedStage.TRAINING)
    step("TRAINING")
    slot.record_accuracy(0.5)  # one epoch in TRAINING: the dwell step_epoch waits for
    slot.step_epoch()  # G2 passes: BLENDING with the default ramp
    assert slot.stage == SeedStage.BLENDING
    slot.start_blending(total_steps=20)
    step("BLENDING")
    ramp_compiles = 0
    for i in range(1, 21):
        slot.update_alpha_for_step(i)
        before = counter.frame_count
        loss_of(compiled(x)).backward()
        ramp_compiles += counter.frame_count - before
    assert ramp_compiles == 0
    slot.gates = PERMISSIVE_GATES
    slot.state.metrics.counterfactual_contribution = 0.1  # G5 wants a measured contribution
    for target in (SeedStage.SHADOWING, SeedStage.PROBATIONARY, SeedStage.FOSSILIZED):
        assert slot.advance_stage(target).passed
        step(target.name)
    assert all(n <= 1 for n in compiles_by_stage.values()), compiles_by_stage
    assert counter.frame_count <= len(compiles_by_stage)


@pytest.mark.slow
@pytest.mark.parametrize("topology", ["cnn", "transformer"])
def test_inductor_parity_while_blending(topology):
    """Inductor-compiled model matches eager in BLENDING (train mode, fp32)."""
    torch.manual_seed(0)
    model = tiny_model(topology)
    drive_to_stage(
        model.seed_slot,
        SeedStage.BLENDING,
        blueprint_id="conv_light" if topology == "cnn" else "mlp",
        alpha=0.4,
        host_module=model.host,
    )
    perturb_seed(model)
    compiled = torch.compile(model, fullgraph=True, backend="inductor")
    _check_parity(model, compiled, tiny_input(topology), True, f"inductor/{topology}")


def test_compile_with_validation_raises_eager_exception():
    """The validated entry point raises eager's ValueError when compiled, and still computes."""
    model = tiny_model("transformer")
    model.eval()
    compiled = compile_with_validation(model, fullgraph=True, backend="aot_eager")
    good = tiny_input("transformer")
    torch.testing.assert_close(compiled(good), model(good))
    bad = torch.zeros(1, 17, dtype=torch.long)
    with pytest.raises(ValueError) as eager_error:
        model(bad)
    with pytest.raises(ValueError) as compiled_error:
        compiled(bad)
    assert str(compiled_error.value) == str(eager_error.value)


def test_compile_with_validation_needs_validate_input():
    """A module without validate_input is refused with a TypeError saying what to use."""
    with pytest.raises(TypeError, match="has no validate_input"):
        compile_with_validation(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("topology", ["cnn", pytest.param("transformer", marks=pytest.mark.slow)])
def test_stage_change_never_reuses_a_stale_graph(topology):
    """TRAINING -> BLENDING at alpha 0 (same output) must not reuse the STE graph's gradients."""
    torch.manual_seed(0)
    model = tiny_model(topology)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    x = tiny_input(topology)
    drive_to_stage(model.seed_slot, SeedStage.TRAINING, blueprint_id="norm", host_module=model.host)
    perturb_seed(model)
    loss_of(compiled(x)).backward()
    model.seed_slot.state.stage = (
        SeedStage.BLENDING
    )  # the original API's direct assignment; alpha stays 0
    _check_parity(model, compiled, x, True, f"{topology} TRAINING->BLENDING")


def test_float_alpha_turns_dynamic_instead_of_recompiling_per_value():
    """blend_with_isolation with a changing Python float compiles at most twice (fullgraph)."""
    from esper.kasmina.isolation import blend_with_isolation

    counter = CompileCounterWithBackend("aot_eager")
    blend = torch.compile(blend_with_isolation, fullgraph=True, backend=counter)
    host, seed = torch.randn(4), torch.randn(4)
    for alpha in (0.1, 0.3, 0.5, 0.7, 0.9, 1.5, -0.2):
        expected = torch.lerp(host, seed, min(max(alpha, 0.0), 1.0))
        torch.testing.assert_close(blend(host, seed, alpha), expected)
    assert counter.frame_count <= 2
