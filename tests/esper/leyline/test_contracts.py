"""The leyline contracts that the original package's callers construct and read."""

import math
from dataclasses import FrozenInstanceError, fields
from datetime import datetime, timezone
from uuid import UUID

import pytest
import torch

from esper.leyline import (
    AdaptationCommand,
    CommandType,
    GateLevel,
    GateResult,
    RiskLevel,
    SeedMetrics,
    SeedStage,
    SeedStateReport,
    SeedTelemetry,
    TelemetryEvent,
    TelemetryEventType,
    TrainingMetrics,
    TrainingSignals,
)


def test_gate_levels_are_six_distinct_ordered_ints():
    """G0..G5 are 0..5: callers sort gates, store them as ints and compare by value."""
    assert [(g.name, int(g)) for g in GateLevel] == [(f"G{i}", i) for i in range(6)]


def test_command_types_and_risk_levels():
    """The eight command types exist; risk levels are ordered ints GREEN=1 .. CRITICAL=5."""
    assert {c.name for c in CommandType} == {
        "GERMINATE",
        "ADVANCE_STAGE",
        "CULL",
        "SET_ALPHA",
        "SET_LEARNING_RATE",
        "PAUSE_SEED",
        "RESUME_SEED",
        "REQUEST_STATE",
    }
    assert [int(r) for r in RiskLevel] == [1, 2, 3, 4, 5]
    assert RiskLevel.GREEN.name == "GREEN" and RiskLevel.CRITICAL.name == "CRITICAL"
    assert RiskLevel.RED > RiskLevel.YELLOW


def test_adaptation_command_defaults_are_fresh_and_frozen():
    """Every field defaults; ids are fresh uuid4s and timestamps are UTC-aware now."""
    before = datetime.now(timezone.utc)
    a, b = AdaptationCommand(), AdaptationCommand()
    assert isinstance(a.command_id, UUID) and a.command_id.version == 4
    assert a.command_id != b.command_id
    assert a.timestamp.tzinfo is not None and a.timestamp >= before
    assert a.command_type is CommandType.GERMINATE
    assert (a.target_seed_id, a.target_slot_id, a.blueprint_id, a.target_stage) == (None,) * 4
    assert (a.new_alpha, a.new_learning_rate) == (None, None)
    assert (a.reason, a.confidence, a.risk_level, a.annotations) == ("", 1.0, RiskLevel.GREEN, {})
    assert a.annotations is not b.annotations
    with pytest.raises(FrozenInstanceError):
        a.reason = "x"  # type: ignore[misc]
    c = AdaptationCommand(command_type=CommandType.ADVANCE_STAGE, target_stage=SeedStage.BLENDING)
    assert c.target_stage is SeedStage.BLENDING


def test_training_metrics_defaults():
    """Counters start at 0, losses and accuracies at 0.0, the best loss at infinity."""
    m = TrainingMetrics()
    for name in ("epoch", "global_step", "plateau_epochs", "host_stabilized"):
        assert getattr(m, name) == 0 and isinstance(getattr(m, name), int)
    for name in (
        "train_loss",
        "val_loss",
        "loss_delta",
        "train_accuracy",
        "val_accuracy",
        "accuracy_delta",
        "best_val_accuracy",
        "grad_norm_host",
        "grad_norm_seed",
    ):
        assert getattr(m, name) == 0.0
    assert m.best_val_loss == math.inf
    m.val_loss = 1.5  # mutable: the loop fills it in
    assert m.val_loss == 1.5


def test_training_signals_defaults_are_independent():
    """Every field has a default; list and metrics defaults are not shared."""
    s1, s2 = TrainingSignals(), TrainingSignals()
    assert s1.metrics == TrainingMetrics() and s1.metrics is not s2.metrics
    s1.loss_history.append(1.0)
    assert s2.loss_history == []
    assert s1.active_seeds == [] and s1.accuracy_history == []
    assert s1.available_slots == 0 and s1.seed_epochs_in_stage == 0
    assert s1.seed_alpha == s1.seed_improvement == s1.seed_counterfactual == 0.0
    assert s1.gpu_memory_used == s1.gpu_utilization == s1.epoch_duration_ms == 0.0
    assert isinstance(s1.timestamp, datetime)
    assert TrainingSignals(seed_stage=SeedStage.TRAINING).seed_stage is SeedStage.TRAINING


def test_state_report_every_field_defaulted():
    """A report built from no arguments: empty ids, UNKNOWN stages, fresh metrics, healthy."""
    r = SeedStateReport()
    assert (r.seed_id, r.slot_id, r.blueprint_id) == ("", "", "")
    assert r.stage is SeedStage.UNKNOWN and r.previous_stage is SeedStage.UNKNOWN
    assert r.metrics == SeedMetrics()
    assert (r.is_healthy, r.is_improving, r.needs_attention) == (True, False, False)
    assert r.annotations == {}
    assert isinstance(r.timestamp, datetime) and isinstance(r.stage_entered_at, datetime)
    assert SeedStateReport(seed_id="s", stage=SeedStage.BLENDING).stage is SeedStage.BLENDING


def test_telemetry_event_every_field_defaulted():
    """An event built from no arguments is an info-level EPOCH_COMPLETED with empty data."""
    e = TelemetryEvent()
    assert e.event_type is TelemetryEventType.EPOCH_COMPLETED
    assert (e.severity, e.data, e.seed_id, e.slot_id) == ("info", {}, None, "")
    assert TelemetryEvent().data is not e.data
    positional = TelemetryEvent(TelemetryEventType.SEED_CULLED, "s1", "slot", {"reason": "x"})
    assert (positional.seed_id, positional.slot_id, positional.data) == (
        "s1",
        "slot",
        {"reason": "x"},
    )


def test_gate_result_defaults_and_positional_order():
    """GateResult() is a failed G0 with empty check lists; positional order is the original's."""
    r = GateResult()
    assert (r.gate, r.passed, r.score, r.checks_passed, r.checks_failed, r.message) == (
        GateLevel.G0,
        False,
        0.0,
        [],
        [],
        "",
    )
    r2 = GateResult(GateLevel.G2, True, 0.5, ["a"], ["b"], "m")
    assert (r2.gate, r2.passed, r2.score, r2.checks_passed, r2.checks_failed) == (
        GateLevel.G2,
        True,
        0.5,
        ["a"],
        ["b"],
    )
    assert [f.name for f in fields(GateResult)][:2] == ["gate", "passed"]


def test_metrics_record_accuracy_sets_baselines_once_and_counts_epochs():
    """The first call sets initial and stage-start accuracy; each call counts an epoch."""
    m = SeedMetrics()
    assert m.initial_val_accuracy == m.current_val_accuracy == 0.0
    m.record_accuracy(40.0)
    m.record_accuracy(torch.tensor(45.0))
    m.record_accuracy(43.0)
    assert m.initial_val_accuracy == 40.0 and m.accuracy_at_stage_start == 40.0
    assert m.current_val_accuracy == 43.0 and m.best_val_accuracy == 45.0
    assert m.epochs_total == 3 and m.epochs_in_current_stage == 3
    assert m.total_improvement == pytest.approx(3.0)
    assert isinstance(m.current_val_accuracy, float)


def test_metrics_first_accuracy_below_zero_default_is_still_best():
    """best_val_accuracy follows recorded values, not the 0.0 default."""
    m = SeedMetrics()
    m.record_accuracy(-2.0)
    assert m.best_val_accuracy == -2.0


def test_metrics_reject_non_finite_and_non_scalar_accuracy():
    m = SeedMetrics()
    with pytest.raises(ValueError, match="finite"):
        m.record_accuracy(float("nan"))
    with pytest.raises(ValueError, match="scalar"):
        m.record_accuracy(torch.tensor([1.0, 2.0]))
    assert m.epochs_total == 0


def test_blending_delta_is_zero_until_blending_starts():
    """A seed that never blended has blending_delta 0.0, whatever its accuracy did."""
    m = SeedMetrics()
    m.record_accuracy(10.0)
    m.record_accuracy(30.0)
    assert m.blending_delta == 0.0
    m.mark_blending_start()
    m.record_accuracy(34.0)
    assert m.accuracy_at_blending_start == 30.0
    assert m.blending_delta == pytest.approx(4.0)


def test_new_metric_fields_have_original_defaults():
    m = SeedMetrics()
    assert (m.accuracy_at_blending_start, m.current_alpha, m.alpha_ramp_step) == (0.0, 0.0, 0)
    assert m.counterfactual_contribution is None


def test_metrics_from_an_older_record_keep_not_measured_as_no_accuracy():
    """Records written when None meant "not measured" load with has_accuracy False."""
    old = {
        "epochs_total": 0,
        "epochs_in_current_stage": 0,
        "initial_val_accuracy": None,
        "current_val_accuracy": None,
        "best_val_accuracy": None,
        "accuracy_at_stage_start": None,
        "isolation_violations": 0,
        "gradient_norm_avg": None,
        "counterfactual_contribution": None,
    }
    m = SeedMetrics.from_dict(old)
    assert m.has_accuracy is False and m.current_val_accuracy == 0.0
    m.record_accuracy(12.0)
    assert m.initial_val_accuracy == 12.0


@pytest.mark.parametrize("record", [TrainingMetrics, TrainingSignals, SeedMetrics])
def test_a_misspelt_field_on_a_mutable_record_is_refused(record):
    """The training loop fills these in by name: a typo raises instead of adding a field."""
    with pytest.raises(AttributeError):
        record().val_acuracy = 0.5


@pytest.mark.parametrize("record", [GateResult, TelemetryEvent, SeedTelemetry, SeedStateReport])
def test_snapshots_are_frozen(record):
    """A gate verdict, an event or a report is a snapshot: a reader cannot alter it."""
    with pytest.raises(FrozenInstanceError):
        setattr(record(), fields(record)[0].name, None)


@pytest.mark.parametrize("record", [SeedTelemetry, SeedMetrics, SeedStateReport])
def test_records_without_an_agreed_order_are_built_by_keyword_only(record):
    """A positional value is refused, not put into whichever field comes first."""
    with pytest.raises(TypeError):
        record("seed-1")
