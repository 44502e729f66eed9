"""Checkpoints: state_dict -> torch.save -> torch.load(weights_only=True) -> load_state_dict."""

import io
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
        assert r.state.previous_stage == slot.state.previous_stage
        assert r.state.stage_entered_at == slot.state.stage_entered_at
        assert list(r.state.stage_history) == list(slot.state.stage_history)
        assert r.state.to_record() == slot.state.to_record()
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
    r = restored.seed_slot
    assert (r.state.blending_steps_done, r.state.blending_steps_total) == (3, 10)
    # step_epoch continues from step 3: the next epoch is step 4 on both.
    slot.step_epoch()
    r.step_epoch()
    assert r.state.blending_steps_done == slot.state.blending_steps_done == 4
    assert r.alpha == slot.alpha
    assert r.update_alpha_for_step(7) == slot.update_alpha_for_step(7)


# What a slot in TRAINING wrote before SeedState kept its own blending counters,
# timestamps and history (extra state version 1).
VERSION_1_RECORD = {
    "version": 1,
    "alpha": 0.25,
    "isolate_gradients": True,
    "blend_step": 2,
    "schedule": [5, 0.0, 1.0, 1.0],
    "seed": {
        "seed_id": "old-seed",
        "blueprint_id": "norm",
        "topology": "cnn",
        "blueprint_kwargs": {},
        "stage": int(SeedStage.BLENDING),
        "previous_stage": int(SeedStage.TRAINING),
        "has_module": True,
        "metrics": {
            "epochs_total": 3,
            "epochs_in_current_stage": 1,
            "initial_val_accuracy": 0.5,
            "current_val_accuracy": 0.6,
            "best_val_accuracy": 0.6,
            "accuracy_at_stage_start": 0.55,
            "isolation_violations": 0,
            "gradient_norm_avg": None,
            "counterfactual_contribution": None,
        },
    },
}


def test_version_1_checkpoint_still_loads():
    """A checkpoint written by the earlier esper restores stage, alpha, ramp and metrics."""
    model = tiny_model("cnn")
    sd = model.state_dict()
    key = next(k for k in sd if k.endswith("_extra_state"))
    drive_to_stage(model.seed_slot, SeedStage.BLENDING, blueprint_id="norm", host_module=model.host)
    sd = {**model.state_dict(), key: _round_trip({"r": VERSION_1_RECORD})["r"]}
    restored = tiny_model("cnn")
    restored.load_state_dict(sd)
    r = restored.seed_slot
    assert r.stage == SeedStage.BLENDING and r.state.previous_stage == SeedStage.TRAINING
    assert r.alpha == 0.25 and r.alpha_tensor.item() == 0.25
    assert (r.state.blending_steps_done, r.state.blending_steps_total) == (2, 5)
    assert r.state.metrics.current_val_accuracy == 0.6 and r.state.metrics.epochs_total == 3
    assert r.state.seed_id == "old-seed" and r.state.slot_id == r.slot_id
    assert r.alpha_schedule is not None and r.alpha_schedule.total_steps == 5


def test_unknown_extra_state_version_is_refused():
    """A checkpoint from another format version raises ValueError naming both versions."""
    model = tiny_model("cnn")
    sd = model.state_dict()
    key = next(k for k in sd if k.endswith("_extra_state"))
    sd[key] = {**sd[key], "version": 99}
    with pytest.raises(ValueError, match="extra state version 99 is not supported"):
        tiny_model("cnn").load_state_dict(sd)


LIFECYCLE_ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("accuracy"), st.floats(0.0, 1.0)),
        st.tuples(st.just("step"), st.none()),
        st.tuples(st.just("advance"), st.sampled_from(list(SeedStage))),
        st.tuples(st.just("alpha"), st.floats(0.0, 1.0)),
        st.tuples(st.just("counterfactual"), st.floats(-1.0, 1.0)),
        st.tuples(st.just("cull"), st.none()),
        st.tuples(st.just("germinate"), st.sampled_from(["norm", "depthwise"])),
    ),
    max_size=30,
)


def _apply(slot, action, value):
    state = slot.state
    if action == "accuracy" and state is not None:
        slot.record_accuracy(value)
    elif action == "step":
        slot.step_epoch()
    elif action == "advance":
        slot.advance_stage(value)
    elif action == "alpha":
        slot.set_alpha(value)
    elif action == "counterfactual" and state is not None:
        state.metrics.counterfactual_contribution = value
    elif action == "cull":
        slot.cull("random")
    elif action == "germinate" and state is None:
        slot.germinate(value)


@pytest.mark.slow  # 30 random lifecycles; the fixed round trips above stay in the fast loop
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=LIFECYCLE_ACTIONS)
def test_round_trip_after_a_random_lifecycle(actions):
    """Whatever the lifecycle did, a weights_only checkpoint restores the slot's whole record."""
    model = tiny_model("cnn")
    slot = model.seed_slot
    for action, value in actions:
        _apply(slot, action, value)
    restored = tiny_model("cnn")
    restored.load_state_dict(_round_trip(model.state_dict()))
    assert restored.seed_slot.get_extra_state() == slot.get_extra_state()
    assert restored.seed_slot.stage == slot.stage
    x = tiny_input("cnn")
    model.eval()
    restored.eval()
    assert torch.equal(model(x), restored(x))


def test_checkpoint_written_by_the_earlier_esper_loads_and_continues():
    """A real checkpoint saved by esper before this API (extra state version 1): a CNN
    with a conv_light seed in BLENDING, step 3 of an 8-step ramp."""
    saved = torch.load(
        Path(__file__).parent / "data" / "esper-v1-cnn-blending.pt", weights_only=True
    )
    model = tiny_model("cnn")
    model.load_state_dict(saved["state_dict"])
    slot = model.seed_slot
    assert slot.stage == SeedStage.BLENDING and slot.state.previous_stage == SeedStage.TRAINING
    assert slot.state.seed_id == "seed-v1" and slot.alpha == saved["alpha"]
    assert (slot.state.blending_steps_done, slot.state.blending_steps_total) == (3, 8)
    m = slot.state.metrics
    assert (m.current_val_accuracy, m.best_val_accuracy, m.isolation_violations) == (0.47, 0.47, 2)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(saved["input"]), saved["output"])
    slot.step_epoch()
    assert slot.state.blending_steps_done == 4 and slot.alpha > saved["alpha"]
