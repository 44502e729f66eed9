"""Contracts shared by every part of esper: stages, gates, commands, signals, telemetry
and reports."""

from esper.leyline.commands import AdaptationCommand, CommandType, RiskLevel
from esper.leyline.gates import GateLevel, GateResult
from esper.leyline.reports import SeedMetrics, SeedStateReport
from esper.leyline.signals import TrainingMetrics, TrainingSignals
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
    "AdaptationCommand",
    "CommandType",
    "GateLevel",
    "GateResult",
    "RiskLevel",
    "SeedMetrics",
    "SeedStage",
    "SeedStateReport",
    "SeedTelemetry",
    "TelemetryEvent",
    "TelemetryEventType",
    "TrainingMetrics",
    "TrainingSignals",
    "is_active_stage",
    "is_cullable_stage",
    "is_failure_stage",
    "is_terminal_stage",
    "is_valid_transition",
]
