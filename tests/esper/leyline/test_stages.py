"""Lifecycle contract: which transitions exist and how stages are classified."""

import pytest

from esper.leyline import (
    VALID_TRANSITIONS,
    SeedStage,
    is_active_stage,
    is_failure_stage,
    is_terminal_stage,
    is_valid_transition,
)


def test_every_stage_has_a_transition_entry():
    """No stage is missing from VALID_TRANSITIONS."""
    assert set(VALID_TRANSITIONS) == set(SeedStage)


def test_stage_values_are_stable():
    """Checkpoints store stage integers, so the numbering must not drift."""
    assert [s.value for s in SeedStage] == list(range(11))
    assert SeedStage.UNKNOWN == 0 and SeedStage.RESETTING == 10


def test_fossilized_is_terminal():
    """Nothing follows FOSSILIZED, and it is the only terminal stage."""
    assert VALID_TRANSITIONS[SeedStage.FOSSILIZED] == ()
    assert [s for s in SeedStage if is_terminal_stage(s)] == [SeedStage.FOSSILIZED]


@pytest.mark.parametrize(
    "stage",
    [
        SeedStage.GERMINATED,
        SeedStage.TRAINING,
        SeedStage.BLENDING,
        SeedStage.SHADOWING,
        SeedStage.PROBATIONARY,
    ],
)
def test_live_non_terminal_stages_can_be_culled(stage):
    """Every non-terminal stage holding a seed may go to CULLED."""
    assert is_valid_transition(stage, SeedStage.CULLED)


def test_failure_path_returns_to_dormant():
    """CULLED -> EMBARGOED -> RESETTING -> DORMANT, one way only."""
    assert is_valid_transition(SeedStage.CULLED, SeedStage.EMBARGOED)
    assert is_valid_transition(SeedStage.EMBARGOED, SeedStage.RESETTING)
    assert is_valid_transition(SeedStage.RESETTING, SeedStage.DORMANT)
    assert not is_valid_transition(SeedStage.CULLED, SeedStage.DORMANT)
    assert not is_valid_transition(SeedStage.FOSSILIZED, SeedStage.CULLED)


def test_no_skipping_on_the_happy_path():
    """A seed cannot jump from TRAINING straight to FOSSILIZED."""
    assert not is_valid_transition(SeedStage.TRAINING, SeedStage.FOSSILIZED)
    assert not is_valid_transition(SeedStage.GERMINATED, SeedStage.BLENDING)


def test_stage_classification():
    """Active, failure and other stages do not overlap."""
    active = {s for s in SeedStage if is_active_stage(s)}
    failure = {s for s in SeedStage if is_failure_stage(s)}
    assert active == {
        SeedStage.TRAINING,
        SeedStage.BLENDING,
        SeedStage.SHADOWING,
        SeedStage.PROBATIONARY,
        SeedStage.FOSSILIZED,
    }
    assert failure == {SeedStage.CULLED, SeedStage.EMBARGOED, SeedStage.RESETTING}
