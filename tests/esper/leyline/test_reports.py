"""SeedMetrics' arithmetic and bookkeeping, and the defaults a controller reads before any
epoch: a fresh seed reports zeros, not values left over from some other run."""

from dataclasses import asdict

import numpy as np
import pytest
import torch

from esper.leyline import SeedMetrics, SeedStage, SeedStateReport
from esper.leyline.telemetry import SeedTelemetry


def _metrics_through_a_lifecycle() -> SeedMetrics:
    # Each baseline is below half of the final accuracy, so no other arithmetic
    # (sum, ratio, remainder, power) gives the same differences.
    metrics = SeedMetrics()
    metrics.record_accuracy(0.125)  # the first epoch: initial and stage start
    metrics.record_accuracy(0.25)
    metrics.reset_stage_baseline()  # a new stage starts at 0.25
    metrics.record_accuracy(0.375)
    metrics.mark_blending_start()  # blending starts at 0.375
    metrics.record_accuracy(0.875)
    return metrics


def test_improvements_are_differences_from_their_own_baselines():
    """Total from the first epoch, stage from the stage's start, blend from blending's."""
    metrics = _metrics_through_a_lifecycle()
    assert metrics.total_improvement == 0.75
    assert metrics.improvement_since_stage_start == 0.625
    assert metrics.blending_delta == 0.5
    assert metrics.best_val_accuracy == 0.875


def test_a_new_stage_counts_its_epochs_from_zero():
    """Two epochs since reset_stage_baseline, four in all."""
    metrics = _metrics_through_a_lifecycle()
    assert (metrics.epochs_in_current_stage, metrics.epochs_total) == (2, 4)


def test_accuracy_is_read_from_floats_numpy_scalars_and_one_element_tensors():
    """Anything with .item() and one element is read; numpy scalars have no numel()."""
    metrics = SeedMetrics()
    metrics.record_accuracy(np.float64(0.5))
    metrics.record_accuracy(torch.tensor([0.75]))
    assert (metrics.initial_val_accuracy, metrics.current_val_accuracy) == (0.5, 0.75)


@pytest.mark.parametrize("shape", [(0,), (2,)], ids=["empty", "two"])
def test_a_tensor_that_is_not_one_value_is_refused_with_its_shape(shape):
    """An empty tensor is as wrong as a two-element one, and the message names the shape."""
    with pytest.raises(ValueError, match=rf"scalar, got shape \({shape[0]},\)"):
        SeedMetrics().record_accuracy(torch.zeros(shape))


def test_from_dict_keeps_an_explicit_has_accuracy():
    """has_accuracy is inferred only for records written before it existed."""
    fresh = SeedMetrics.from_dict({"initial_val_accuracy": 0.5, "has_accuracy": False})
    assert fresh.has_accuracy is False
    old = SeedMetrics.from_dict({"initial_val_accuracy": 0.5})
    assert old.has_accuracy is True
    unmeasured = SeedMetrics.from_dict({"initial_val_accuracy": None})
    assert unmeasured.has_accuracy is False and unmeasured.initial_val_accuracy == 0.0


def test_fresh_metrics_are_all_zero():
    """No accuracy, epoch, alpha or violation before the first record."""
    assert asdict(SeedMetrics()) == {
        "epochs_total": 0,
        "epochs_in_current_stage": 0,
        "initial_val_accuracy": 0.0,
        "current_val_accuracy": 0.0,
        "best_val_accuracy": 0.0,
        "accuracy_at_stage_start": 0.0,
        "accuracy_at_blending_start": 0.0,
        "current_alpha": 0.0,
        "alpha_ramp_step": 0,
        "isolation_violations": 0,
        "gradient_norm_avg": None,
        "counterfactual_contribution": None,
        "has_accuracy": False,
        "has_blended": False,
    }


def test_an_empty_report_and_telemetry_describe_an_inactive_isolated_seed():
    """The defaults a controller sees for a slot with nothing in it."""
    report = SeedStateReport()
    assert (report.stage, report.previous_stage) == (SeedStage.UNKNOWN, SeedStage.UNKNOWN)
    assert (report.alpha, report.seed_params) == (0.0, 0)
    assert report.isolate_gradients is True and report.is_active is False
    assert report.is_healthy is True and report.is_improving is False
    assert report.needs_attention is False and report.annotations == {}
    telemetry = SeedTelemetry()
    assert (telemetry.alpha, telemetry.epochs_in_stage, telemetry.isolation_violations) == (
        0.0,
        0,
        0,
    )
    assert telemetry.accuracy_delta == 0.0 and telemetry.gradient_norm is None
