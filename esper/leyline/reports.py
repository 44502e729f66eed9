"""Report types: what a slot tells the outside world about its seed."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from esper.leyline.stages import SeedStage


@dataclass(slots=True, kw_only=True)
class SeedMetrics:
    """Running measurements of one seed. Mutable: updated between epochs.

    Every field is a primitive so that the metrics round-trip through a
    `torch.load(weights_only=True)` checkpoint unchanged.
    """

    epochs_total: int = 0
    epochs_in_current_stage: int = 0
    initial_val_accuracy: float | None = None
    current_val_accuracy: float | None = None
    best_val_accuracy: float | None = None
    accuracy_at_stage_start: float | None = None
    isolation_violations: int = 0
    gradient_norm_avg: float | None = None
    counterfactual_contribution: float | None = None

    def record_accuracy(self, accuracy: float) -> None:
        """Record a validation accuracy measured after an epoch."""
        accuracy = float(accuracy)
        if not math.isfinite(accuracy):
            raise ValueError(f"accuracy must be finite, got {accuracy!r}")
        if self.initial_val_accuracy is None:
            self.initial_val_accuracy = accuracy
        if self.accuracy_at_stage_start is None:
            self.accuracy_at_stage_start = accuracy
        self.current_val_accuracy = accuracy
        if self.best_val_accuracy is None or accuracy > self.best_val_accuracy:
            self.best_val_accuracy = accuracy

    @property
    def total_improvement(self) -> float:
        if self.initial_val_accuracy is None or self.current_val_accuracy is None:
            return 0.0
        return self.current_val_accuracy - self.initial_val_accuracy

    @property
    def improvement_since_stage_start(self) -> float:
        if self.accuracy_at_stage_start is None or self.current_val_accuracy is None:
            return 0.0
        return self.current_val_accuracy - self.accuracy_at_stage_start

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeedMetrics:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown SeedMetrics fields {unknown}; known: {sorted(known)}")
        return cls(**data)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedStateReport:
    """A read-only snapshot of a slot and its seed."""

    slot_id: str
    seed_id: str | None
    blueprint_id: str | None
    topology: str | None
    stage: SeedStage
    previous_stage: SeedStage
    alpha: float
    isolate_gradients: bool
    is_active: bool
    seed_params: int
    metrics: SeedMetrics | None
