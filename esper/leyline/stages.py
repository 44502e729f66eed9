"""The seed lifecycle: stages and the transitions allowed between them."""

from __future__ import annotations

from enum import IntEnum


class SeedStage(IntEnum):
    """Where a seed is in its life. Integer values are stable: checkpoints store them."""

    UNKNOWN = 0
    DORMANT = 1  # the slot is empty and may germinate
    GERMINATED = 2  # a seed exists but does not touch the output yet
    TRAINING = 3  # incubation: the seed learns behind a straight-through estimator
    BLENDING = 4  # the seed's output is mixed in along the alpha ramp
    SHADOWING = 5  # fully blended, observed before committing
    PROBATIONARY = 6  # last chance to prove its contribution
    FOSSILIZED = 7  # permanently part of the host (terminal)
    CULLED = 8  # removed for failing a gate or by request
    EMBARGOED = 9  # cooling-off period before the slot may be reused
    RESETTING = 10  # clearing state before returning to DORMANT


_CULLABLE = (
    SeedStage.GERMINATED,
    SeedStage.TRAINING,
    SeedStage.BLENDING,
    SeedStage.SHADOWING,
    SeedStage.PROBATIONARY,
)

VALID_TRANSITIONS: dict[SeedStage, tuple[SeedStage, ...]] = {
    SeedStage.UNKNOWN: (SeedStage.DORMANT,),
    SeedStage.DORMANT: (SeedStage.GERMINATED,),
    SeedStage.GERMINATED: (SeedStage.TRAINING, SeedStage.CULLED),
    SeedStage.TRAINING: (SeedStage.BLENDING, SeedStage.CULLED),
    SeedStage.BLENDING: (SeedStage.SHADOWING, SeedStage.CULLED),
    SeedStage.SHADOWING: (SeedStage.PROBATIONARY, SeedStage.CULLED),
    SeedStage.PROBATIONARY: (SeedStage.FOSSILIZED, SeedStage.CULLED),
    SeedStage.FOSSILIZED: (),
    SeedStage.CULLED: (SeedStage.EMBARGOED,),
    SeedStage.EMBARGOED: (SeedStage.RESETTING,),
    SeedStage.RESETTING: (SeedStage.DORMANT,),
}

# The forward path a seed takes once it passed its gates, in order.
HAPPY_PATH: tuple[SeedStage, ...] = (
    SeedStage.GERMINATED,
    SeedStage.TRAINING,
    SeedStage.BLENDING,
    SeedStage.SHADOWING,
    SeedStage.PROBATIONARY,
    SeedStage.FOSSILIZED,
)

_ACTIVE = frozenset(
    {
        SeedStage.TRAINING,
        SeedStage.BLENDING,
        SeedStage.SHADOWING,
        SeedStage.PROBATIONARY,
        SeedStage.FOSSILIZED,
    }
)
_FAILURE = frozenset({SeedStage.CULLED, SeedStage.EMBARGOED, SeedStage.RESETTING})


def is_valid_transition(current: SeedStage, target: SeedStage) -> bool:
    """True when `target` may directly follow `current`."""
    return SeedStage(target) in VALID_TRANSITIONS[SeedStage(current)]


def is_terminal_stage(stage: SeedStage) -> bool:
    """FOSSILIZED is the only stage nothing can follow."""
    return SeedStage(stage) == SeedStage.FOSSILIZED


def is_active_stage(stage: SeedStage) -> bool:
    """Stages in which the seed takes part in the forward pass."""
    return SeedStage(stage) in _ACTIVE


def is_failure_stage(stage: SeedStage) -> bool:
    """Stages on the culling path."""
    return SeedStage(stage) in _FAILURE


def is_cullable_stage(stage: SeedStage) -> bool:
    """Non-terminal stages that hold a live seed."""
    return SeedStage(stage) in _CULLABLE
