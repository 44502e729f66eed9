"""Telemetry: events a slot emits on lifecycle changes, never from inside forward."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from esper.leyline.stages import SeedStage


class TelemetryEventType(Enum):
    SEED_GERMINATED = "seed_germinated"
    SEED_STAGE_CHANGED = "seed_stage_changed"
    SEED_BLENDING_STARTED = "seed_blending_started"
    SEED_FOSSILIZED = "seed_fossilized"
    SEED_CULLED = "seed_culled"
    GATE_FAILED = "gate_failed"


@dataclass(frozen=True, slots=True)
class TelemetryEvent:
    """One lifecycle event. `data` holds primitives only, so events serialize as JSON."""

    event_type: TelemetryEventType
    seed_id: str | None
    slot_id: str
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedTelemetry:
    """A snapshot of one seed's health, taken between steps for a controller to read."""

    seed_id: str
    slot_id: str
    blueprint_id: str
    stage: SeedStage
    alpha: float
    epochs_in_stage: int
    accuracy_delta: float
    gradient_norm: float | None = None
    isolation_violations: int = 0
