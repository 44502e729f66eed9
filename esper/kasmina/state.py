"""SeedState: the lifecycle record of one seed.

A SeedState stands on its own (`SeedState("seed-1", "norm")`), as in the
original package, and a SeedSlot attaches the one it drives. While attached,
`alpha` reads and writes the slot's tensor buffer and every stage change tells
the slot, which recomputes the flags its forward branches on: a compiled
forward never reuses a graph built for another stage.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from esper.leyline import (
    SeedMetrics,
    SeedStage,
    SeedStateReport,
    SeedTelemetry,
    is_valid_transition,
)
from esper.leyline.commands import utc_now

# Bounded, so a long-lived slot's history (and its checkpoint) cannot grow without end.
STAGE_HISTORY_LENGTH = 100


class StateOwner(Protocol):
    """What a SeedState needs from the slot it is attached to."""

    @property
    def alpha(self) -> float: ...

    def set_alpha(self, value: float) -> None: ...

    def state_changed(self, state: SeedState) -> None: ...


class SeedState:
    """The lifecycle record of one seed: stage, alpha, metrics, blending progress, history.

    `stage` and `alpha` may be assigned directly (`state.stage = SeedStage.TRAINING`);
    `transition(stage)` is the checked move that also records the previous stage,
    the time and the history, and restarts the stage's dwell and improvement.
    """

    def __init__(
        self,
        seed_id: str,
        blueprint_id: str,
        slot_id: str = "",
        stage: SeedStage = SeedStage.DORMANT,
        previous_stage: SeedStage = SeedStage.UNKNOWN,
        stage_entered_at: datetime | None = None,
        alpha: float = 0.0,
        metrics: SeedMetrics | None = None,
        blending_steps_done: int = 0,
        blending_steps_total: int = 0,
        is_healthy: bool = True,
        is_paused: bool = False,
        stage_history: Iterable[tuple[SeedStage, datetime]] | None = None,
        *,
        topology: str = "",
        blueprint_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._owner: StateOwner | None = None
        self.seed_id = seed_id
        self.blueprint_id = blueprint_id
        self.slot_id = slot_id
        self.topology = topology
        self.blueprint_kwargs = dict(blueprint_kwargs or {})
        self._stage = SeedStage(stage)
        self.previous_stage = SeedStage(previous_stage)
        self.stage_entered_at = stage_entered_at if stage_entered_at is not None else utc_now()
        self._alpha = float(alpha)
        self.metrics = metrics if metrics is not None else SeedMetrics()
        self.blending_steps_done = blending_steps_done
        self.blending_steps_total = blending_steps_total
        self.is_healthy = is_healthy
        self.is_paused = is_paused
        self.stage_history: deque[tuple[SeedStage, datetime]] = deque(
            stage_history or (), maxlen=STAGE_HISTORY_LENGTH
        )

    # ----------------------------------------------------------------- attachment
    def attach(self, owner: StateOwner | None) -> None:
        """Bind to the slot that drives this seed (None detaches). Alpha moves to the slot."""
        if owner is not None:
            owner.set_alpha(self._alpha)
        elif self._owner is not None:
            self._alpha = self._owner.alpha
        self._owner = owner

    @property
    def stage(self) -> SeedStage:
        return self._stage

    @stage.setter
    def stage(self, value: SeedStage) -> None:
        self._stage = SeedStage(value)
        if self._owner is not None:
            self._owner.state_changed(self)

    @property
    def alpha(self) -> float:
        return self._owner.alpha if self._owner is not None else self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        if self._owner is not None:
            self._owner.set_alpha(value)
            return
        value = float(value)
        if math.isnan(value):
            raise ValueError("alpha must be a number in [0, 1], got nan")
        self._alpha = min(max(value, 0.0), 1.0)

    # ----------------------------------------------------------------- lifecycle
    def can_transition_to(self, new_stage: SeedStage) -> bool:
        return is_valid_transition(self._stage, SeedStage(new_stage))

    def transition(self, new_stage: SeedStage) -> bool:
        """Move to `new_stage` if the lifecycle allows it; False and no change if not."""
        new_stage = SeedStage(new_stage)
        if not self.can_transition_to(new_stage):
            return False
        self.previous_stage = self._stage
        self.stage_entered_at = utc_now()
        self.stage_history.append((new_stage, self.stage_entered_at))
        self.metrics.reset_stage_baseline()
        self.stage = new_stage  # last: the owner refreshes its forward flags on a settled state
        return True

    def increment_epoch(self) -> None:
        """Count an epoch without an accuracy (record_accuracy counts one with it)."""
        self.metrics.epochs_total += 1
        self.metrics.epochs_in_current_stage += 1

    # ----------------------------------------------------------------- views
    @property
    def telemetry(self) -> SeedTelemetry:
        return SeedTelemetry(
            seed_id=self.seed_id,
            slot_id=self.slot_id,
            blueprint_id=self.blueprint_id,
            stage=self._stage,
            alpha=self.alpha,
            epochs_in_stage=self.metrics.epochs_in_current_stage,
            accuracy_delta=self.metrics.improvement_since_stage_start,
            gradient_norm=self.metrics.gradient_norm_avg,
            isolation_violations=self.metrics.isolation_violations,
        )

    def to_report(self) -> SeedStateReport:
        """A read-only snapshot (metrics copied: later epochs do not change it)."""
        return SeedStateReport(
            seed_id=self.seed_id,
            slot_id=self.slot_id,
            blueprint_id=self.blueprint_id,
            topology=self.topology,
            stage=self._stage,
            previous_stage=self.previous_stage,
            stage_entered_at=self.stage_entered_at,
            alpha=self.alpha,
            metrics=SeedMetrics.from_dict(self.metrics.to_dict()),
            telemetry=self.telemetry,
            is_healthy=self.is_healthy,
            is_improving=self.metrics.improvement_since_stage_start > 0,
            needs_attention=not self.is_healthy,
        )

    # ----------------------------------------------------------------- checkpoints
    def to_record(self) -> dict[str, Any]:
        """Plain values only (timestamps as ISO strings), for weights_only checkpoints."""
        return {
            "seed_id": self.seed_id,
            "blueprint_id": self.blueprint_id,
            "slot_id": self.slot_id,
            "topology": self.topology,
            "blueprint_kwargs": dict(self.blueprint_kwargs),
            "stage": int(self._stage),
            "previous_stage": int(self.previous_stage),
            "stage_entered_at": self.stage_entered_at.isoformat(),
            "alpha": self.alpha,
            "metrics": self.metrics.to_dict(),
            "blending_steps_done": self.blending_steps_done,
            "blending_steps_total": self.blending_steps_total,
            "is_healthy": self.is_healthy,
            "is_paused": self.is_paused,
            "stage_history": [[int(s), t.isoformat()] for s, t in self.stage_history],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SeedState:
        """Rebuild from `to_record`; fields a record of an older esper lacks take defaults."""
        entered = record.get("stage_entered_at")
        return cls(
            record["seed_id"],
            record["blueprint_id"],
            slot_id=record.get("slot_id", ""),
            stage=SeedStage(record["stage"]),
            previous_stage=SeedStage(record["previous_stage"]),
            stage_entered_at=datetime.fromisoformat(entered) if entered else None,
            alpha=float(record.get("alpha", 0.0)),
            metrics=SeedMetrics.from_dict(record["metrics"]),
            blending_steps_done=int(record.get("blending_steps_done", 0)),
            blending_steps_total=int(record.get("blending_steps_total", 0)),
            is_healthy=bool(record.get("is_healthy", True)),
            is_paused=bool(record.get("is_paused", False)),
            stage_history=[
                (SeedStage(s), datetime.fromisoformat(t))
                for s, t in record.get("stage_history", [])
            ],
            topology=record.get("topology", ""),
            blueprint_kwargs=record.get("blueprint_kwargs"),
        )

    def __repr__(self) -> str:
        return (
            f"SeedState(seed_id={self.seed_id!r}, blueprint_id={self.blueprint_id!r}, "
            f"stage={self._stage.name}, alpha={self.alpha:.4f})"
        )
