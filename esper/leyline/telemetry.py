"""Telemetry: events a slot emits on lifecycle changes, never from inside forward."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from esper.leyline.commands import utc_now
from esper.leyline.stages import SeedStage


class TelemetryEventType(Enum):
    EPOCH_COMPLETED = "epoch_completed"
    PLATEAU_DETECTED = "plateau_detected"
    SEED_GERMINATED = "seed_germinated"
    SEED_STAGE_CHANGED = "seed_stage_changed"
    SEED_BLENDING_STARTED = "seed_blending_started"
    SEED_FOSSILIZED = "seed_fossilized"
    SEED_CULLED = "seed_culled"
    GATE_FAILED = "gate_failed"
    COMMAND_ISSUED = "command_issued"
    COMMAND_EXECUTED = "command_executed"


@dataclass(frozen=True, slots=True)
class TelemetryEvent:
    """One event. `data` holds primitives only, so events serialize as JSON.

    Every field has a default; the first three keep their positions, so
    `TelemetryEvent(kind, seed_id, slot_id, data)` still works.
    """

    event_type: TelemetryEventType = TelemetryEventType.EPOCH_COMPLETED
    seed_id: str | None = None
    slot_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=utc_now)
    epoch: int | None = None
    message: str = ""
    severity: str = "info"  # "debug", "info", "warning", "error" or "critical"


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedTelemetry:
    """A snapshot of one seed's health, taken between steps for a controller to read."""

    seed_id: str = ""
    slot_id: str = ""
    blueprint_id: str = ""
    stage: SeedStage = SeedStage.UNKNOWN
    alpha: float = 0.0
    epochs_in_stage: int = 0
    accuracy_delta: float = 0.0
    gradient_norm: float | None = None
    isolation_violations: int = 0
