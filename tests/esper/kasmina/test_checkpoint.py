"""Checkpoints: state_dict -> torch.save -> torch.load(weights_only=True) -> load_state_dict."""

import io

import pytest
import torch
from support.esper_models import STAGES_UNDER_TEST, perturb_seed, tiny_input, tiny_model

from esper.kasmina.staging import drive_to_stage
from esper.leyline import SeedStage


def _round_trip(state_dict):
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _plain(value):
    """True when value is built from primitives, lists, tuples and dicts only."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, bool | int | float | str | torch.Tensor)


@pytest.mark.parametrize("topology", ["cnn", "transformer"])
@pytest.mark.parametrize(
    "label, stage_name, alpha", STAGES_UNDER_TEST, ids=[s[0] for s in STAGES_UNDER_TEST]
)
def test_round_trip_restores_seed_exactly(topology, label, stage_name, alpha):
    """Weights, stage, alpha, seed id and metrics come back exactly into a fresh model."""
    torch.manual_seed(0)
    model = tiny_model(topology)
    blueprint = "conv_heavy" if topology == "cnn" else "attention"
    drive_to_stage(
        model.seed_slot,
        SeedStage[stage_name],
        blueprint_id=blueprint,
        alpha=alpha,
        seed_id="seed-7",
        host_module=model.host,
    )
    perturb_seed(model)
    slot = model.seed_slot
    if slot.state is not None:
        slot.record_accuracy(0.42)
        slot.state.metrics.counterfactual_contribution = 0.013
    sd = model.state_dict()
    extra = [v for k, v in sd.items() if k.endswith("_extra_state")]
    assert extra and all(_plain(v) for v in extra)

    restored = tiny_model(topology)
    restored.load_state_dict(_round_trip(sd))
    r = restored.seed_slot
    assert r.stage == slot.stage and r.alpha == slot.alpha
    assert r.alpha_tensor.item() == slot.alpha_tensor.item()
    assert r.isolate_gradients == slot.isolate_gradients
    if slot.state is not None:
        assert r.state.seed_id == "seed-7" and r.state.blueprint_id == blueprint
        assert r.state.metrics == slot.state.metrics
    assert (r.seed is None) == (slot.seed is None)
    for (name_a, a), (name_b, b) in zip(
        model.state_dict().items(), restored.state_dict().items(), strict=True
    ):
        assert name_a == name_b
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), name_a
    model.eval()
    restored.eval()
    x = tiny_input(topology)
    assert torch.equal(model(x), restored(x))


def test_round_trip_keeps_the_alpha_ramp_going():
    """A checkpoint taken mid-ramp resumes the same schedule."""
    model = tiny_model("cnn")
    slot = model.seed_slot
    drive_to_stage(slot, SeedStage.BLENDING, blueprint_id="norm", alpha=0.0, host_module=model.host)
    slot.start_blending(total_steps=10)
    slot.update_alpha_for_step(3)
    restored = tiny_model("cnn")
    restored.load_state_dict(_round_trip(model.state_dict()))
    assert restored.seed_slot.update_alpha_for_step(7) == slot.update_alpha_for_step(7)


def test_unknown_extra_state_version_is_refused():
    """A checkpoint from another format version raises ValueError naming both versions."""
    model = tiny_model("cnn")
    sd = model.state_dict()
    key = next(k for k in sd if k.endswith("_extra_state"))
    sd[key] = {**sd[key], "version": 99}
    with pytest.raises(ValueError, match="extra state version 99 is not supported"):
        tiny_model("cnn").load_state_dict(sd)
