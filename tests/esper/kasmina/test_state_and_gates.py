"""SeedState on its own and QualityGates.check_gate, as the original package's callers use them."""

from datetime import datetime

import pytest

from esper.kasmina.gates import QualityGates
from esper.kasmina.state import STAGE_HISTORY_LENGTH, SeedState
from esper.leyline import GateLevel, SeedStage


def test_state_constructs_without_a_slot():
    """SeedState(seed_id, blueprint_id) alone: DORMANT, alpha 0, healthy, empty history."""
    s = SeedState("seed-1", "norm")
    assert (s.seed_id, s.blueprint_id, s.slot_id, s.stage) == (
        "seed-1",
        "norm",
        "",
        SeedStage.DORMANT,
    )
    assert s.previous_stage is SeedStage.UNKNOWN
    assert (s.alpha, s.blending_steps_done, s.blending_steps_total) == (0.0, 0, 0)
    assert (s.is_healthy, s.is_paused) == (True, False)
    assert list(s.stage_history) == [] and isinstance(s.stage_entered_at, datetime)
    s2 = SeedState("s", "lora", "slot-a", SeedStage.TRAINING)
    assert (s2.slot_id, s2.stage) == ("slot-a", SeedStage.TRAINING)


def test_transition_legal_sets_previous_time_history_and_baseline():
    s = SeedState("s", "norm", stage=SeedStage.GERMINATED)
    s.metrics.record_accuracy(50.0)
    s.metrics.record_accuracy(55.0)
    entered = s.stage_entered_at
    assert s.transition(SeedStage.TRAINING) is True
    assert (s.stage, s.previous_stage) == (SeedStage.TRAINING, SeedStage.GERMINATED)
    assert s.stage_entered_at >= entered
    assert s.stage_history[-1] == (SeedStage.TRAINING, s.stage_entered_at)
    assert s.metrics.epochs_in_current_stage == 0
    assert s.metrics.accuracy_at_stage_start == 55.0
    assert s.metrics.epochs_total == 2  # the total survives the stage change


def test_transition_illegal_returns_false_and_changes_nothing():
    s = SeedState("s", "norm", stage=SeedStage.GERMINATED)
    s.metrics.record_accuracy(50.0)
    before = (s.stage, s.previous_stage, s.stage_entered_at, list(s.stage_history))
    assert s.can_transition_to(SeedStage.FOSSILIZED) is False
    assert s.transition(SeedStage.FOSSILIZED) is False
    assert (s.stage, s.previous_stage, s.stage_entered_at, list(s.stage_history)) == before
    assert s.metrics.epochs_in_current_stage == 1


def test_stage_history_is_bounded():
    s = SeedState("s", "norm")
    for _ in range(STAGE_HISTORY_LENGTH):
        s.transition(SeedStage.GERMINATED)
        s.transition(SeedStage.CULLED)
        s.transition(SeedStage.EMBARGOED)
        s.transition(SeedStage.RESETTING)
        s.transition(SeedStage.DORMANT)
    assert len(s.stage_history) == STAGE_HISTORY_LENGTH


def test_increment_epoch_counts_total_and_stage():
    s = SeedState("s", "norm")
    s.increment_epoch()
    s.increment_epoch()
    assert (s.metrics.epochs_total, s.metrics.epochs_in_current_stage) == (2, 2)


def test_detached_alpha_is_clamped_and_nan_refused():
    s = SeedState("s", "norm")
    s.alpha = 1.7
    assert s.alpha == 1.0
    with pytest.raises(ValueError, match="nan"):
        s.alpha = float("nan")


def test_to_report_copies_the_state():
    """The report names the seed and its stages; later epochs do not change it."""
    s = SeedState("s", "norm", "slot-a", SeedStage.GERMINATED)
    s.transition(SeedStage.TRAINING)
    s.metrics.record_accuracy(10.0)
    s.metrics.record_accuracy(12.0)
    r = s.to_report()
    assert (r.seed_id, r.slot_id, r.blueprint_id) == ("s", "slot-a", "norm")
    assert (r.stage, r.previous_stage) == (SeedStage.TRAINING, SeedStage.GERMINATED)
    assert r.is_improving is True and r.is_healthy is True and r.needs_attention is False
    s.metrics.record_accuracy(99.0)
    assert r.metrics.current_val_accuracy == 12.0
    s.is_healthy = False
    assert s.to_report().needs_attention is True


# ----------------------------------------------------------------- gates
def _state(stage, **metrics):
    s = SeedState("s", "norm", stage=stage)
    for name, value in metrics.items():
        setattr(s.metrics, name, value)
    return s


def test_g0_needs_both_ids():
    gates = QualityGates()
    assert gates.check_gate(SeedState("s", "norm"), SeedStage.GERMINATED).passed
    r = gates.check_gate(SeedState("", "norm"), SeedStage.GERMINATED)
    assert r.gate is GateLevel.G0 and not r.passed and r.checks_failed == ["seed_id_present"]
    assert not gates.check_gate(SeedState("s", ""), SeedStage.GERMINATED).passed


@pytest.mark.parametrize("stage", [SeedStage.DORMANT, SeedStage.TRAINING, SeedStage.BLENDING])
def test_g1_passes_only_from_germinated(stage):
    gates = QualityGates()
    assert gates.check_gate(_state(SeedStage.GERMINATED), SeedStage.TRAINING).passed
    r = gates.check_gate(_state(stage), SeedStage.TRAINING)
    assert r.gate is GateLevel.G1 and not r.passed


G2 = QualityGates(min_training_improvement=0.5, max_isolation_violations=2, min_training_epochs=3)
G2_OK = dict(
    current_val_accuracy=10.5,
    accuracy_at_stage_start=10.0,
    isolation_violations=2,
    epochs_in_current_stage=3,
)


def test_g2_passes_at_each_boundary():
    r = G2.check_gate(_state(SeedStage.TRAINING, **G2_OK), SeedStage.BLENDING)
    assert r.gate is GateLevel.G2 and r.passed and r.score == 1.0


@pytest.mark.parametrize(
    ("name", "value", "check"),
    [
        ("current_val_accuracy", 10.49, "improvement>=0.5"),
        ("isolation_violations", 3, "isolation_violations<=2"),
        ("epochs_in_current_stage", 2, "training_epochs>=3"),
    ],
)
def test_g2_fails_just_past_each_boundary(name, value, check):
    """Each G2 condition on its own refuses, one step past its threshold."""
    r = G2.check_gate(_state(SeedStage.TRAINING, **{**G2_OK, name: value}), SeedStage.BLENDING)
    assert not r.passed and r.checks_failed == [check]
    assert r.score == pytest.approx(2 / 3)


G3 = QualityGates(min_blending_epochs=3, min_blend_alpha=0.95)


@pytest.mark.parametrize(
    ("epochs", "alpha", "passed"),
    [(3, 0.95, True), (2, 0.95, False), (3, 0.94, False), (10, 1.0, True)],
)
def test_g3_needs_blending_epochs_and_alpha_near_one(epochs, alpha, passed):
    s = _state(SeedStage.BLENDING, epochs_in_current_stage=epochs)
    s.alpha = alpha
    r = G3.check_gate(s, SeedStage.SHADOWING)
    assert r.gate is GateLevel.G3 and r.passed is passed


def test_g4_passes_only_from_shadowing():
    gates = QualityGates()
    assert gates.check_gate(_state(SeedStage.SHADOWING), SeedStage.PROBATIONARY).passed
    r = gates.check_gate(_state(SeedStage.BLENDING), SeedStage.PROBATIONARY)
    assert r.gate is GateLevel.G4 and not r.passed


@pytest.mark.parametrize(
    ("contribution", "healthy", "passed"),
    [(0.01, True, True), (0.0, True, False), (-0.5, True, False), (0.5, False, False)],
)
def test_g5_needs_positive_counterfactual_and_health(contribution, healthy, passed):
    s = _state(SeedStage.PROBATIONARY, counterfactual_contribution=contribution)
    s.is_healthy = healthy
    r = QualityGates().check_gate(s, SeedStage.FOSSILIZED)
    assert r.gate is GateLevel.G5 and r.passed is passed


def test_g5_without_counterfactual_names_the_check():
    """A positive accuracy trend is not enough: G5 wants a measured contribution."""
    s = _state(SeedStage.PROBATIONARY, current_val_accuracy=90.0, initial_val_accuracy=10.0)
    r = QualityGates().check_gate(s, SeedStage.FOSSILIZED)
    assert not r.passed and "counterfactual_not_available" in r.checks_failed


def test_gates_take_the_original_keywords():
    gates = QualityGates(
        min_training_improvement=1.0,
        min_blending_epochs=2,
        max_isolation_violations=0,
        min_shadowing_correlation=0.8,
        min_probation_stability=0.7,
    )
    assert (gates.min_shadowing_correlation, gates.min_probation_stability) == (0.8, 0.7)
    with pytest.raises(ValueError, match="min_blending_epochs"):
        QualityGates(min_blending_epochs=-1)
