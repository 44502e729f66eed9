"""Report types: a seed's running metrics, and the snapshot a slot gives the outside world."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from esper.leyline.commands import utc_now
from esper.leyline.stages import SeedStage
from esper.leyline.telemetry import SeedTelemetry


def _as_accuracy(accuracy: Any) -> float:
    """A finite float from a float, an int or a one-element tensor (read between steps)."""
    if hasattr(accuracy, "item") and callable(accuracy.item):
        if getattr(accuracy, "numel", lambda: 1)() != 1:
            raise ValueError(f"accuracy must be a scalar, got shape {tuple(accuracy.shape)}")
        accuracy = accuracy.item()
    value = float(accuracy)
    if not math.isfinite(value):
        raise ValueError(f"accuracy must be finite, got {value!r}")
    return value


@dataclass(slots=True, kw_only=True)
class SeedMetrics:
    """Running measurements of one seed. Mutable: updated between epochs.

    Every field is a primitive so that the metrics round-trip through a
    `torch.load(weights_only=True)` checkpoint unchanged. Accuracies start at
    0.0, as in the original package; `has_accuracy` says whether any was recorded.
    """

    epochs_total: int = 0
    epochs_in_current_stage: int = 0
    initial_val_accuracy: float = 0.0
    current_val_accuracy: float = 0.0
    best_val_accuracy: float = 0.0
    accuracy_at_stage_start: float = 0.0
    accuracy_at_blending_start: float = 0.0
    current_alpha: float = 0.0
    alpha_ramp_step: int = 0
    isolation_violations: int = 0
    gradient_norm_avg: float | None = None
    counterfactual_contribution: float | None = None
    has_accuracy: bool = False
    has_blended: bool = False

    def record_accuracy(self, accuracy: Any) -> None:
        """Record the validation accuracy measured after an epoch, and count that epoch.

        The first call also sets the initial and the stage-start accuracy.
        """
        value = _as_accuracy(accuracy)
        if not self.has_accuracy:
            self.initial_val_accuracy = value
            self.accuracy_at_stage_start = value
            self.best_val_accuracy = value
            self.has_accuracy = True
        self.current_val_accuracy = value
        self.best_val_accuracy = max(self.best_val_accuracy, value)
        self.epochs_total += 1
        self.epochs_in_current_stage += 1

    def reset_stage_baseline(self) -> None:
        """A new stage starts: its dwell counts from 0 and its improvement from now."""
        self.epochs_in_current_stage = 0
        self.accuracy_at_stage_start = self.current_val_accuracy

    def mark_blending_start(self) -> None:
        self.accuracy_at_blending_start = self.current_val_accuracy
        self.has_blended = True

    @property
    def total_improvement(self) -> float:
        return self.current_val_accuracy - self.initial_val_accuracy

    @property
    def improvement_since_stage_start(self) -> float:
        return self.current_val_accuracy - self.accuracy_at_stage_start

    @property
    def blending_delta(self) -> float:
        """Accuracy gained since blending began; 0.0 for a seed that never blended."""
        if not self.has_blended:
            return 0.0
        return self.current_val_accuracy - self.accuracy_at_blending_start

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeedMetrics:
        """Rebuild from `to_dict`, including records written before accuracies defaulted
        to 0.0 (then None stood for "not measured")."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown SeedMetrics fields {unknown}; known: {sorted(known)}")
        values = dict(data)
        if "has_accuracy" not in values:
            values["has_accuracy"] = values.get("initial_val_accuracy") is not None
        for name in (
            "initial_val_accuracy",
            "current_val_accuracy",
            "best_val_accuracy",
            "accuracy_at_stage_start",
        ):
            if values.get(name) is None:
                values[name] = 0.0
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedStateReport:
    """A read-only snapshot of a slot and its seed. Every field has a default."""

    seed_id: str = ""
    slot_id: str = ""
    blueprint_id: str = ""
    topology: str = ""
    stage: SeedStage = SeedStage.UNKNOWN
    previous_stage: SeedStage = SeedStage.UNKNOWN
    stage_entered_at: datetime = field(default_factory=utc_now)
    alpha: float = 0.0
    isolate_gradients: bool = True
    is_active: bool = False
    seed_params: int = 0
    metrics: SeedMetrics = field(default_factory=SeedMetrics)
    telemetry: SeedTelemetry = field(default_factory=SeedTelemetry)
    is_healthy: bool = True
    is_improving: bool = False
    needs_attention: bool = False
    annotations: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=utc_now)
