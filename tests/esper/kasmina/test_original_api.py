"""SeedSlot, blueprints, hosts and TaskConfig as the original package's callers use them."""

import pytest
import torch
import torch.nn as nn

from esper.kasmina.blueprints import BlueprintRegistry
from esper.kasmina.gates import QualityGates
from esper.kasmina.host import CNNHost, MorphogeneticModel, TransformerHost
from esper.kasmina.isolation import AlphaSchedule
from esper.kasmina.slot import SeedSlot
from esper.kasmina.staging import drive_to_stage
from esper.leyline import GateLevel, SeedStage, TelemetryEventType
from esper.simic.features import TaskConfig


def _slot(**kwargs):
    events = []
    slot = SeedSlot("s", channels=8, on_telemetry=events.append, **kwargs)
    return slot, events


def _train(slot, *accuracies):
    for acc in accuracies:
        slot.record_accuracy(acc)


# ----------------------------------------------------------------- advance_stage
def test_advance_without_seed_is_a_failed_g0():
    slot, _ = _slot()
    r = slot.advance_stage(SeedStage.TRAINING)
    assert r.gate is GateLevel.G0 and not r.passed and r.checks_failed == ["no_active_seed"]


def test_advance_defaults_to_the_next_stage_off_the_culling_path():
    slot, _ = _slot()
    slot.germinate("norm")
    assert slot.advance_stage().passed and slot.stage is SeedStage.TRAINING
    _train(slot, 1.0)
    assert slot.advance_stage().passed and slot.stage is SeedStage.BLENDING  # not CULLED


def test_advance_takes_the_target_stage_keyword():
    slot, _ = _slot()
    slot.germinate("norm")
    assert slot.advance_stage(target_stage=SeedStage.TRAINING).passed


def test_illegal_move_whose_gate_passes_is_transition_failed_not_an_exception():
    """A move whose gate passes but the lifecycle forbids returns `transition_failed`."""
    slot, _ = _slot()
    slot.germinate("norm")
    # G0 (ids present) guards GERMINATED; GERMINATED -> GERMINATED is not a legal move.
    r = slot.advance_stage(SeedStage.GERMINATED)
    assert not r.passed and "transition_failed" in r.checks_failed
    assert slot.stage is SeedStage.GERMINATED and slot.state.previous_stage is SeedStage.DORMANT


def test_refused_gate_changes_nothing():
    slot, events = _slot(gates=QualityGates(min_training_improvement=5.0))
    slot.germinate("norm")
    slot.advance_stage(SeedStage.TRAINING)
    _train(slot, 10.0, 11.0)
    r = slot.advance_stage(SeedStage.BLENDING)
    assert not r.passed and slot.stage is SeedStage.TRAINING and slot.alpha_schedule is None
    assert events[-1].event_type is TelemetryEventType.GATE_FAILED


def test_blending_records_the_accuracy_at_its_start():
    slot, _ = _slot()
    slot.germinate("norm")
    slot.advance_stage(SeedStage.TRAINING)
    _train(slot, 10.0, 14.0)
    slot.advance_stage(SeedStage.BLENDING)
    m = slot.state.metrics
    assert m.accuracy_at_blending_start == 14.0 and m.blending_delta == 0.0
    _train(slot, 16.5)
    assert m.blending_delta == pytest.approx(2.5)


# ----------------------------------------------------------------- step_epoch
def _lifecycle(task_config=None):
    slot, events = _slot(task_config=task_config)
    slot.germinate("norm")
    stages = [slot.stage]
    acc = 10.0
    for _ in range(40):
        slot.step_epoch()
        acc += 1.0
        slot.record_accuracy(acc)  # the training loop counts the epoch
        stages.append(slot.stage)
    return slot, stages


def _dwell(stages, stage):
    return stages.count(stage)


def test_step_epoch_never_fossilizes():
    """Left to step_epoch, a seed ends in PROBATIONARY; fossilizing is a decision."""
    slot, stages = _lifecycle()
    assert slot.stage is SeedStage.PROBATIONARY
    assert SeedStage.FOSSILIZED not in stages


def test_step_epoch_does_not_fossilize_even_when_g5_would_pass():
    slot, _ = _slot()
    drive_to_stage(slot, SeedStage.PROBATIONARY, blueprint_id="norm")
    slot.state.metrics.counterfactual_contribution = 0.5
    for _ in range(5):
        slot.record_accuracy(0.9)
        assert slot.step_epoch() is None
    assert slot.stage is SeedStage.PROBATIONARY


def test_step_epoch_pace_without_task_config():
    """One TRAINING epoch, five blending steps (alpha rising each), then SHADOWING."""
    slot, stages = _lifecycle()
    assert stages[:2] == [SeedStage.GERMINATED, SeedStage.TRAINING]
    assert _dwell(stages, SeedStage.TRAINING) == 1
    assert slot.state.blending_steps_total == 5 and slot.state.blending_steps_done == 5
    assert _dwell(stages, SeedStage.BLENDING) == 5
    assert _dwell(stages, SeedStage.SHADOWING) == 1


def test_step_epoch_pace_follows_task_config():
    """Dwell = fraction * max_epochs (at least 1); blending length = blending_steps."""
    config = TaskConfig(
        task_type="classification",
        topology="cnn",
        baseline_loss=2.3,
        target_loss=0.3,
        typical_loss_delta_std=0.05,
        max_epochs=30,
        train_to_blend_fraction=0.1,  # 3 epochs
        shadowing_fraction=0.2,  # 6 epochs
        blending_steps=4,
    )
    slot, stages = _lifecycle(config)
    assert _dwell(stages, SeedStage.TRAINING) == 3
    assert _dwell(stages, SeedStage.BLENDING) == 4
    assert _dwell(stages, SeedStage.SHADOWING) == 6
    assert slot.state.blending_steps_total == 4


def test_step_epoch_counts_no_epochs():
    slot, _ = _slot()
    slot.germinate("norm")
    slot.step_epoch()
    slot.step_epoch()
    assert slot.state.metrics.epochs_total == 0
    assert slot.stage is SeedStage.TRAINING  # no accuracy recorded: the dwell never ends


def test_blending_steps_move_alpha_each_epoch():
    slot, _ = _slot()
    slot.germinate("norm")
    slot.advance_stage(SeedStage.TRAINING)
    _train(slot, 1.0)
    slot.advance_stage(SeedStage.BLENDING)
    alphas = []
    for _ in range(5):
        slot.step_epoch()
        _train(slot, 2.0)
        alphas.append(slot.alpha)
    assert alphas == sorted(alphas) and alphas[0] > 0.0 and alphas[-1] == 1.0
    assert slot.state.metrics.current_alpha == 1.0 and slot.state.metrics.alpha_ramp_step == 5


def test_fossilize_is_explicit_and_needs_g5():
    slot, events = _slot()
    slot.germinate("norm")
    slot.advance_stage(SeedStage.TRAINING)
    _train(slot, 1.0)
    slot.advance_stage(SeedStage.BLENDING)
    slot.set_alpha(1.0)
    _train(slot, 2.0)
    slot.advance_stage(SeedStage.SHADOWING)
    slot.advance_stage(SeedStage.PROBATIONARY)
    _train(slot, 3.0)
    refused = slot.advance_stage(SeedStage.FOSSILIZED)
    assert "counterfactual_not_available" in refused.checks_failed
    slot.state.metrics.counterfactual_contribution = 0.8
    assert slot.advance_stage(SeedStage.FOSSILIZED).passed
    assert slot.stage is SeedStage.FOSSILIZED and slot.alpha == 1.0
    fossilized = [e for e in events if e.event_type is TelemetryEventType.SEED_FOSSILIZED]
    assert len(fossilized) == 1
    data = fossilized[0].data
    assert data["counterfactual"] == 0.8 and data["params_added"] == slot.active_seed_params
    # Taken before the stage reset: PROBATIONARY's one epoch is still counted.
    assert data["epochs_total"] == 3 and data["epochs_in_stage"] == 1
    assert data["seed_id"] == "s-norm" and data["improvement"] == pytest.approx(2.0)


# ----------------------------------------------------------------- blending, cull
def test_start_blending_sets_counters_and_a_public_schedule():
    slot, _ = _slot()
    slot.germinate("norm")
    slot.start_blending(10, temperature=2.0)
    assert isinstance(slot.alpha_schedule, AlphaSchedule)
    assert (slot.alpha_schedule.start, slot.alpha_schedule.end) == (0.0, 1.0)
    assert slot.alpha_schedule.temperature == 2.0
    assert (slot.state.blending_steps_total, slot.state.blending_steps_done) == (10, 0)
    assert slot.update_alpha_for_step(10) == 1.0


def test_update_alpha_without_schedule_returns_current_alpha():
    slot, _ = _slot()
    slot.set_alpha(0.25)
    assert slot.update_alpha_for_step(3) == 0.25 and slot.alpha == 0.25


def test_cull_clears_seed_state_and_schedule():
    slot, events = _slot()
    slot.germinate("norm")
    slot.advance_stage(SeedStage.TRAINING)
    _train(slot, 10.0, 12.0)
    slot.start_blending(4)
    assert slot.cull("plateau") is True
    assert (slot.seed, slot.state, slot.alpha_schedule) == (None, None, None)
    assert slot.stage is SeedStage.DORMANT and slot.alpha == 0.0
    culled = events[-1]
    assert culled.event_type is TelemetryEventType.SEED_CULLED
    assert culled.data["reason"] == "plateau" and culled.data["seed_id"] == "s-norm"
    assert culled.data["improvement"] == pytest.approx(2.0) and culled.data["epochs_total"] == 2
    assert culled.data["epochs_in_stage"] == 2 and culled.data["blending_delta"] == 0.0
    slot.germinate("norm")  # the slot is free again


def test_cull_refuses_empty_and_fossilized():
    slot, _ = _slot()
    assert slot.cull() is False
    slot.germinate("norm")
    slot.state.stage = SeedStage.FOSSILIZED
    assert slot.cull("x") is False and slot.state is not None and slot.seed is not None


# ----------------------------------------------------------------- germinate
def test_germinate_default_seed_id_and_history():
    slot, events = _slot()
    state = slot.germinate("norm")
    assert state.seed_id == "s-norm" and state.slot_id == "s"
    assert state.stage is SeedStage.GERMINATED and state.previous_stage is SeedStage.DORMANT
    assert [s for s, _ in state.stage_history] == [SeedStage.GERMINATED]
    assert events[0].event_type is TelemetryEventType.SEED_GERMINATED
    params = sum(p.numel() for p in slot.seed.parameters())
    assert params > 0
    assert events[0].data == {"blueprint_id": "norm", "seed_id": "s-norm", "params": params}


def test_germinate_occupied_is_runtime_and_value_error():
    slot, _ = _slot()
    slot.germinate("norm")
    with pytest.raises(RuntimeError, match="already holds seed"):
        slot.germinate("norm")
    with pytest.raises(ValueError, match="already holds seed"):
        slot.germinate("norm")


def test_shape_changing_seed_is_value_and_assertion_error():
    @BlueprintRegistry.register("shrinker", "cnn", 1)
    def shrinker(dim):
        return nn.Conv2d(dim, dim // 2, 1)

    try:
        slot, _ = _slot()
        with pytest.raises(AssertionError, match="changed shape"):
            slot.germinate("shrinker")
        with pytest.raises(ValueError, match="changed shape"):
            slot.germinate("shrinker")
        assert slot.state is None and slot.seed is None
    finally:
        BlueprintRegistry.unregister("cnn", "shrinker")


def test_host_double_with_non_string_topology_is_ignored():
    class HostDouble(nn.Module):
        topology = object()

    slot, _ = _slot()
    slot.germinate("norm", host_module=HostDouble())
    assert slot.topology == "cnn" and slot.state.topology == "cnn"


# ----------------------------------------------------------------- alpha, params, device
@pytest.mark.parametrize(("value", "expected"), [(-0.5, 0.0), (1.5, 1.0), (0.3, 0.3)])
def test_set_alpha_clamps(value, expected):
    slot, _ = _slot()
    slot.set_alpha(value)
    assert slot.alpha == pytest.approx(expected)
    assert slot.alpha_tensor.item() == pytest.approx(expected)


def test_set_alpha_nan_still_raises():
    slot, _ = _slot()
    with pytest.raises(ValueError, match="nan"):
        slot.set_alpha(float("nan"))


def test_active_seed_params_counts_trainable_only():
    slot, _ = _slot()
    slot.germinate("conv_light")
    total = sum(p.numel() for p in slot.seed.parameters())
    assert slot.active_seed_params == total
    first = next(slot.seed.parameters())
    first.requires_grad_(False)
    assert slot.active_seed_params == total - first.numel()


def test_slot_and_model_device():
    model = MorphogeneticModel(CNNHost())
    assert model.device == torch.device("cpu") and model.seed_slot.device == torch.device("cpu")


# ----------------------------------------------------------------- blueprints
def test_list_for_topology_by_param_estimate():
    assert [s.name for s in BlueprintRegistry.list_for_topology("cnn")] == [
        "norm",
        "attention",
        "depthwise",
        "conv_light",
        "conv_heavy",
    ]
    transformer = [s.name for s in BlueprintRegistry.list_for_topology("transformer")]
    assert transformer[:2] == ["norm", "lora"] and transformer[-1] == "mlp"
    estimates = [s.param_estimate for s in BlueprintRegistry.list_for_topology("transformer")]
    assert estimates == sorted(estimates)


def test_register_positional_param_estimate_and_actual_count():
    @BlueprintRegistry.register("tiny", "cnn", 7, "a 1x1 conv")
    def tiny(dim):
        return nn.Conv2d(dim, dim, 1)

    try:
        spec = BlueprintRegistry.get("cnn", "tiny")
        assert (spec.param_estimate, spec.description) == (7, "a 1x1 conv")
        assert spec.actual_param_count(4) == 4 * 4 + 4
        assert [s.name for s in BlueprintRegistry.list_for_topology("cnn")][0] == "tiny"
    finally:
        BlueprintRegistry.unregister("cnn", "tiny")


def test_register_rejects_bad_param_estimate():
    with pytest.raises(ValueError, match="param_estimate"):
        BlueprintRegistry.register("bad", "cnn", -1)


# ----------------------------------------------------------------- hosts
def test_transformer_host_original_names_add_no_state():
    host = TransformerHost(vocab_size=32, n_embd=16, n_head=2, n_layer=2, block_size=8)
    keys = set(host.state_dict())
    assert host.tok_emb is host.wte and host.pos_emb is host.wpe
    assert host.layers is host.blocks and host.head is host.lm_head
    assert not any(k.startswith(("tok_emb", "pos_emb", "layers", "head")) for k in keys)


def test_too_long_sequence_names_both_lengths():
    host = TransformerHost(vocab_size=32, n_embd=16, n_head=2, n_layer=1, block_size=8)
    with pytest.raises(ValueError, match=r"sequence length 9 exceeds block_size 8"):
        host(torch.zeros(1, 9, dtype=torch.long))


def test_register_slot_unknown_point():
    host = CNNHost()
    with pytest.raises(ValueError, match="Unknown injection point: 'nowhere'"):
        host.register_slot("nowhere", SeedSlot("x", channels=8))


def test_model_germinate_seed_and_cull_seed():
    model = MorphogeneticModel(
        TransformerHost(vocab_size=32, n_embd=16, n_head=2, n_layer=1, block_size=8)
    )
    state = model.germinate_seed("lora", "seed-7")
    assert state.seed_id == "seed-7" and model.seed_slot.topology == "transformer"
    assert model.cull_seed() is True and model.seed_state is None


# ----------------------------------------------------------------- TaskConfig
def test_task_config_presets():
    c = TaskConfig.for_cifar10()
    assert (c.task_type, c.topology, c.baseline_loss, c.target_loss) == (
        "classification",
        "cnn",
        2.3,
        0.3,
    )
    assert (c.typical_loss_delta_std, c.max_epochs, c.max_steps) == (0.05, 25, 10000)
    t = TaskConfig.for_tinystories()
    assert (t.task_type, t.topology, t.baseline_loss, t.target_loss) == (
        "lm",
        "transformer",
        10.8,
        3.5,
    )
    assert (t.typical_loss_delta_std, t.max_epochs, t.max_steps) == (0.15, 50, 50000)
    assert (c.shadowing_fraction, c.train_to_blend_fraction, c.blending_steps) == (0.1, 0.1, 5)
    assert not hasattr(c, "__dict__")  # a slots dataclass


def test_task_config_sets_the_seed_topology():
    slot = SeedSlot("s", channels=16, task_config=TaskConfig.for_tinystories())
    slot.germinate("lora")
    assert slot.state.topology == "transformer"
