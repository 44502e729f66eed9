"""SeedSlot: forward per stage, lifecycle, gates, errors and telemetry."""

import pytest
import torch
import torch.nn as nn

from esper.kasmina.blueprints import BlueprintRegistry
from esper.kasmina.host import CNNHost
from esper.kasmina.slot import QualityGates, SeedSlot
from esper.kasmina.staging import drive_to_stage
from esper.leyline import SeedStage, TelemetryEventType


def _trained_seed_slot(channels=8, topology_host=None):
    slot = SeedSlot("s", channels=channels)
    slot.germinate("conv_light", "seed-1", host_module=topology_host)
    # Give the zero-initialised seed real weights so it changes the features.
    with torch.no_grad():
        for p in slot.get_parameters():
            p.normal_(0, 0.5)
    return slot


def test_reference_snippet_runs_unchanged():
    """The original API's direct state assignment takes effect and gives the STE."""
    slot = SeedSlot("test", channels=32, device="cpu")
    slot.germinate("norm", "seed-1", host_module=CNNHost())
    slot.state.stage = SeedStage.TRAINING
    slot.state.alpha = 0.0
    slot.isolate_gradients = True
    host_features = torch.randn(1, 32, 8, 8, requires_grad=True)
    result = slot(host_features)
    assert torch.allclose(result, host_features, atol=1e-6)
    assert slot.alpha_tensor.item() == 0.0


def test_state_alpha_assignment_reaches_the_buffer():
    """slot.state.alpha = x updates the tensor the forward reads."""
    slot = _trained_seed_slot()
    slot.state.alpha = 0.25
    assert slot.alpha == 0.25 and slot.alpha_tensor.item() == 0.25


def test_empty_and_dormant_slot_is_identity():
    """No seed: the output is the input object itself."""
    slot = SeedSlot("s", channels=8)
    x = torch.randn(2, 8, 4, 4)
    assert slot(x) is x


@pytest.mark.parametrize("stage", [SeedStage.GERMINATED])
def test_germinated_seed_does_not_act(stage):
    """A germinated seed does not touch the output yet."""
    slot = _trained_seed_slot()
    x = torch.randn(2, 8, 4, 4)
    assert slot(x) is x


def test_training_is_ste_with_isolated_host_gradients():
    """TRAINING at alpha 0: output == host, seed gets gradients, host upstream gets only its own."""
    slot = _trained_seed_slot()
    slot.advance_stage(SeedStage.TRAINING)
    x = torch.randn(2, 8, 4, 4, requires_grad=True)
    out = slot(x)
    assert torch.equal(out, x)
    upstream = torch.randn_like(out)
    out.backward(upstream)
    assert torch.equal(x.grad, upstream)  # the seed path is detached from the host
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in slot.get_parameters())


def test_training_without_isolation_sends_seed_gradient_to_host():
    """With isolate_gradients False the host input also receives the seed's gradient."""
    slot = _trained_seed_slot()
    slot.advance_stage(SeedStage.TRAINING)
    slot.isolate_gradients = False
    x = torch.randn(2, 8, 4, 4, requires_grad=True)
    upstream = torch.randn(2, 8, 4, 4)
    slot(x).backward(upstream)
    assert not torch.equal(x.grad, upstream)


def _to_blending(slot, alpha):
    slot.advance_stage(SeedStage.TRAINING)
    slot.record_accuracy(0.5)  # the one TRAINING epoch step_epoch waits for
    slot.step_epoch()
    assert slot.stage == SeedStage.BLENDING
    slot.set_alpha(alpha)


def test_blending_cnn_is_lerp_with_detached_host():
    """BLENDING on a CNN: lerp(host, seed, alpha) and no gradient through the host leg."""
    slot = _trained_seed_slot(topology_host=CNNHost(base_channels=4))
    _to_blending(slot, 0.3)
    x = torch.randn(2, 8, 4, 4, requires_grad=True)
    out = slot(x)
    with torch.no_grad():
        expected = torch.lerp(x, slot.seed(x), 0.3)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    assert x.grad is None  # seed input detached (isolated) and host leg detached


def test_blending_transformer_keeps_host_gradient():
    """BLENDING on a transformer keeps the residual stream's gradient: (1 - alpha)."""
    slot = SeedSlot("s", channels=8, task_config=type("T", (), {"topology": "transformer"})())
    slot.germinate("lora", "l1")
    _to_blending(slot, 0.3)
    x = torch.randn(2, 3, 8, requires_grad=True)
    slot(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full_like(x, 0.7))


def test_set_alpha_refuses_nan_and_clamps_the_rest():
    """nan is refused with alpha unchanged; inf and values outside [0, 1] are clamped."""
    slot = _trained_seed_slot()
    slot.set_alpha(0.4)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\], got nan"):
        slot.set_alpha(float("nan"))
    with pytest.raises(ValueError, match="got nan"):
        slot.state.alpha = float("nan")
    assert slot.alpha == 0.4 and slot.alpha_tensor.item() == pytest.approx(0.4)
    for value, clamped in ((float("inf"), 1.0), (-0.1, 0.0), (1.5, 1.0), (float("-inf"), 0.0)):
        slot.set_alpha(value)
        assert slot.alpha == clamped and slot.alpha_tensor.item() == clamped


def test_force_alpha_restores_even_on_error():
    """force_alpha is a context manager that always restores the previous alpha."""
    slot = _trained_seed_slot()
    slot.set_alpha(0.6)
    with slot.force_alpha(0.0):
        assert slot.alpha == 0.0
    assert slot.alpha == 0.6
    with pytest.raises(RuntimeError):
        with slot.force_alpha(1.0):
            raise RuntimeError("boom")
    assert slot.alpha == 0.6


def test_germinate_occupied_slot_is_refused_without_change():
    """Germinating an occupied slot raises and keeps the first seed."""
    slot = _trained_seed_slot()
    seed = slot.seed
    with pytest.raises(ValueError, match="already holds seed 'seed-1' in stage GERMINATED"):
        slot.germinate("norm", "seed-2")
    assert slot.seed is seed and slot.state.seed_id == "seed-1"


def test_shape_changing_seed_is_refused_without_change():
    """The shape probe refuses a seed that changes the feature shape; the slot stays empty."""

    @BlueprintRegistry.register("widen", "cnn")
    class Widen(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.conv = nn.Conv2d(dim, dim * 2, 1)

        def forward(self, x):
            return self.conv(x)

    try:
        slot = SeedSlot("s", channels=4)
        with pytest.raises(ValueError, match=r"changed shape \(2, 4, 4, 4\) -> \(2, 8, 4, 4\)"):
            slot.germinate("widen")
        assert slot.seed is None and slot.state is None and slot.stage == SeedStage.DORMANT
    finally:
        BlueprintRegistry.reset()


def test_unknown_blueprint_leaves_slot_empty():
    """An unknown blueprint raises ValueError and germinates nothing."""
    slot = SeedSlot("s", channels=4)
    with pytest.raises(ValueError, match="unknown blueprint 'lora' for topology 'cnn'"):
        slot.germinate("lora")
    assert slot.state is None


def test_wrong_channel_count_is_a_value_error():
    """Features with the wrong channel count raise ValueError naming both shapes."""
    slot = SeedSlot("s", channels=8)
    with pytest.raises(
        ValueError, match=r"expects features of shape \(B, 8, H, W\), got \(2, 5, 4, 4\)"
    ):
        slot(torch.randn(2, 5, 4, 4))


def test_illegal_transition_is_a_failed_result_naming_what_may_follow():
    """advance_stage to a stage that may not follow returns a failed result, no exception."""
    slot = _trained_seed_slot()
    result = slot.advance_stage(SeedStage.GERMINATED)  # G0 passes, the lifecycle refuses
    assert not result.passed and result.checks_failed == ["transition_failed"]
    assert result.message == (
        "illegal transition GERMINATED -> GERMINATED; "
        "allowed from GERMINATED: ['TRAINING', 'CULLED']"
    )
    assert slot.stage == SeedStage.GERMINATED


def test_advance_without_seed_says_to_germinate_first():
    """advance_stage on an empty slot is a failed G0 that says to germinate first."""
    result = SeedSlot("s", channels=4).advance_stage()
    assert not result.passed and result.checks_failed == ["no_active_seed"]
    assert "germinate one first" in result.message


def test_gate_refusal_returns_result_and_keeps_stage():
    """A failing gate returns passed=False with the failed check named."""
    slot = _trained_seed_slot()
    slot.advance_stage(SeedStage.TRAINING)
    result = slot.advance_stage(SeedStage.BLENDING)  # no epoch spent in TRAINING yet
    assert not result.passed and result.checks_failed == ["training_epochs>=1"]
    assert slot.stage == SeedStage.TRAINING


def test_gate_thresholds_are_configurable():
    """G2 honours min_training_improvement from QualityGates."""
    slot = SeedSlot(
        "s", channels=4, gates=QualityGates(min_training_epochs=0, min_training_improvement=0.05)
    )
    slot.germinate("norm")
    slot.advance_stage(SeedStage.TRAINING)
    slot.record_accuracy(0.50)
    slot.record_accuracy(0.52)
    assert not slot.advance_stage(SeedStage.BLENDING).passed
    slot.record_accuracy(0.56)
    assert slot.advance_stage(SeedStage.BLENDING).passed


def test_quality_gates_validate_arguments():
    """Bad gate thresholds raise ValueError with the value."""
    with pytest.raises(ValueError, match="blending_epochs must be >= 1, got 0"):
        QualityGates(blending_epochs=0)
    with pytest.raises(ValueError, match="min_training_epochs must be an int >= 0"):
        QualityGates(min_training_epochs=-1)


def test_step_epoch_runs_the_lifecycle_then_fossilizing_is_a_decision():
    """step_epoch walks GERMINATED to PROBATIONARY with the alpha ramp in BLENDING;
    advance_stage(FOSSILIZED) with a measured contribution finishes it."""
    slot = SeedSlot("s", channels=4, gates=QualityGates(blending_epochs=4))
    slot.germinate("norm")
    stages, alphas = [], []
    for epoch in range(12):
        slot.step_epoch()
        slot.record_accuracy(0.5 + 0.01 * epoch)
        stages.append(slot.stage)
        alphas.append(slot.alpha)
    assert stages[:2] == [SeedStage.TRAINING, SeedStage.BLENDING]
    assert stages[-1] == SeedStage.PROBATIONARY
    blending = [a for s, a in zip(stages, alphas, strict=True) if s == SeedStage.BLENDING]
    assert blending == sorted(blending) and 0.0 <= blending[0] < 1.0
    slot.state.metrics.counterfactual_contribution = 0.02
    assert slot.advance_stage(SeedStage.FOSSILIZED).passed
    assert slot.alpha == 1.0 and not slot.isolate_gradients


def test_culled_stage_then_embargo_then_dormant_then_regerminate():
    """advance_stage(CULLED) drops the seed and walks EMBARGOED, RESETTING back to DORMANT."""
    slot = _trained_seed_slot()
    slot.advance_stage(SeedStage.TRAINING)
    assert slot.advance_stage(SeedStage.CULLED).passed
    assert slot.seed is None and slot.stage == SeedStage.CULLED and slot.alpha == 0.0
    x = torch.randn(2, 8, 4, 4)
    assert slot(x) is x
    seen = [slot.stage]
    for _ in range(4):
        slot.step_epoch()
        seen.append(slot.stage)
    assert seen[:4] == [
        SeedStage.CULLED,
        SeedStage.EMBARGOED,
        SeedStage.RESETTING,
        SeedStage.DORMANT,
    ]
    slot.germinate("norm", "again")
    assert slot.stage == SeedStage.GERMINATED


def test_fossilized_cannot_be_culled():
    """cull returns False on a fossil and leaves it in place."""
    slot = SeedSlot("s", channels=4)
    drive_to_stage(slot, SeedStage.FOSSILIZED, blueprint_id="norm")
    assert slot.cull("too late") is False
    assert slot.stage == SeedStage.FOSSILIZED and slot.seed is not None


def test_telemetry_events_and_fast_mode():
    """Lifecycle methods emit events; fast_mode emits none."""
    events = []
    slot = SeedSlot("s", channels=4, on_telemetry=events.append)
    slot.germinate("norm", "t1")
    slot.advance_stage(SeedStage.TRAINING)
    slot.cull("test")
    kinds = [e.event_type for e in events]
    assert kinds == [
        TelemetryEventType.SEED_GERMINATED,
        TelemetryEventType.SEED_STAGE_CHANGED,
        TelemetryEventType.SEED_CULLED,
    ]
    assert events[-1].data["reason"] == "test" and events[-1].seed_id == "t1"
    quiet = []
    fast = SeedSlot("f", channels=4, on_telemetry=quiet.append, fast_mode=True)
    fast.germinate("norm")
    fast.advance_stage(SeedStage.TRAINING)
    assert quiet == []


def test_state_report_and_parameters():
    """get_state_report reflects the seed; active_seed_params counts its parameters."""
    slot = _trained_seed_slot()
    report = slot.get_state_report()
    assert report.seed_id == "seed-1" and report.stage == SeedStage.GERMINATED
    assert report.seed_params == slot.active_seed_params == 8 * 8 * 9 + 8
    assert not slot.is_active
    slot.advance_stage(SeedStage.TRAINING)
    assert slot.is_active
    empty = SeedSlot("e", channels=4).get_state_report()
    assert empty.seed_id == "" and empty.stage == SeedStage.DORMANT and empty.seed_params == 0


def test_task_config_topology_wins_and_is_validated():
    """task_config.topology chooses the blueprint family; an unknown one is refused."""
    cfg = type("Cfg", (), {"topology": "transformer"})()
    slot = SeedSlot("s", channels=8, task_config=cfg)
    slot.germinate("lora", host_module=CNNHost())  # task_config beats the host
    assert slot.state.topology == "transformer"
    with pytest.raises(ValueError, match=r"task_config names topology 'gnn'"):
        SeedSlot("s", channels=8, task_config=type("Cfg", (), {"topology": "gnn"})())


def test_direct_stage_assignment_switches_the_forward_in_eager():
    """`state.stage = X` takes effect at once: TRAINING gives the seed gradients (STE),
    BLENDING mixes the seed in. A GERMINATED seed would give neither."""
    slot = _trained_seed_slot()
    x = torch.randn(2, 8, 4, 4)
    slot.state.stage = SeedStage.TRAINING
    out = slot(x)
    assert torch.equal(out, x)
    out.sum().backward()
    grads = [p.grad for p in slot.get_parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    slot.state.stage = SeedStage.BLENDING
    slot.set_alpha(0.5)
    with torch.no_grad():
        assert not torch.allclose(slot(x), x)
        slot.state.stage = SeedStage.GERMINATED
        assert torch.equal(slot(x), x)
