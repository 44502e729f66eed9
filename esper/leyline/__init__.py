"""Contracts shared by every part of esper: stages, gates, telemetry and reports."""

from esper.leyline.gates import GateLevel, GateResult
from esper.leyline.reports import SeedMetrics, SeedStateReport
from esper.leyline.stages import (
    HAPPY_PATH,
    VALID_TRANSITIONS,
    SeedStage,
    is_active_stage,
    is_cullable_stage,
    is_failure_stage,
    is_terminal_stage,
    is_valid_transition,
)
from esper.leyline.telemetry import SeedTelemetry, TelemetryEvent, TelemetryEventType

__all__ = [
    "HAPPY_PATH",
    "VALID_TRANSITIONS",
    "GateLevel",
    "GateResult",
    "SeedMetrics",
    "SeedStage",
    "SeedStateReport",
    "SeedTelemetry",
    "TelemetryEvent",
    "TelemetryEventType",
    "is_active_stage",
    "is_cullable_stage",
    "is_failure_stage",
    "is_terminal_stage",
    "is_valid_transition",
]
