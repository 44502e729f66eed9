"""Commands a controller sends to the slots, and the risk it attaches to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum, IntEnum, auto
from typing import Any
from uuid import UUID, uuid4

from esper.leyline.stages import SeedStage


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (every leyline timestamp uses it)."""
    return datetime.now(timezone.utc)


class CommandType(Enum):
    """What a controller asks a slot to do."""

    GERMINATE = auto()
    ADVANCE_STAGE = auto()
    CULL = auto()
    SET_ALPHA = auto()
    SET_LEARNING_RATE = auto()
    PAUSE_SEED = auto()
    RESUME_SEED = auto()
    REQUEST_STATE = auto()


class RiskLevel(IntEnum):
    """How much a command may disturb training; ordered, so levels compare."""

    GREEN = 1
    YELLOW = 2
    ORANGE = 3
    RED = 4
    CRITICAL = 5


@dataclass(frozen=True, slots=True)
class AdaptationCommand:
    """One command. Every field has a default, so callers name only what they set."""

    command_id: UUID = field(default_factory=uuid4)
    timestamp: datetime = field(default_factory=utc_now)
    command_type: CommandType = CommandType.GERMINATE
    target_seed_id: str | None = None
    target_slot_id: str | None = None
    blueprint_id: str | None = None
    target_stage: SeedStage | None = None
    new_alpha: float | None = None
    new_learning_rate: float | None = None
    reason: str = ""
    confidence: float = 1.0
    risk_level: RiskLevel = RiskLevel.GREEN
    annotations: dict[str, Any] = field(default_factory=dict)
