"""The mechanical lifecycle: what one epoch of `SeedSlot.step_epoch` does.

The pace comes from the slot's task_config when it has one (dwell = a fraction
of max_epochs, at least one epoch; the ramp's length = blending_steps), else
from its QualityGates. Everything goes through the slot's public methods, so
the gates, telemetry and forward flags stay the slot's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from esper.leyline import GateResult, SeedStage, is_failure_stage

if TYPE_CHECKING:
    from esper.kasmina.slot import SeedSlot


def blending_steps(slot: SeedSlot) -> int:
    """Length of the alpha ramp: task_config.blending_steps, else gates.blending_epochs (5)."""
    return int(getattr(slot.task_config, "blending_steps", slot.gates.blending_epochs))


def _dwell(slot: SeedSlot, fraction_name: str, default: int) -> int:
    """Epochs a stage lasts: a fraction of the task's max_epochs (at least 1)."""
    fraction = getattr(slot.task_config, fraction_name, None)
    max_epochs = getattr(slot.task_config, "max_epochs", None)
    if fraction is None or max_epochs is None:
        return default
    return max(1, int(fraction * max_epochs))


def step_epoch(slot: SeedSlot) -> GateResult | None:
    """GERMINATED -> TRAINING at once; TRAINING -> BLENDING after its dwell (one epoch
    without a task_config); one ramp step per epoch in BLENDING, then SHADOWING;
    SHADOWING -> PROBATIONARY after its dwell. PROBATIONARY waits: fossilizing is a
    decision (`advance_stage(FOSSILIZED)`). After `advance_stage(CULLED)` the embargo
    walks back to DORMANT."""
    state = slot.state
    if state is None:
        return None
    stage, dwell = state.stage, state.metrics.epochs_in_current_stage
    if stage == SeedStage.GERMINATED:
        return slot.advance_stage(SeedStage.TRAINING)
    if stage == SeedStage.TRAINING:
        if dwell >= _dwell(slot, "train_to_blend_fraction", 1):
            return slot.advance_stage(SeedStage.BLENDING)
        return None
    if stage == SeedStage.BLENDING:
        if state.blending_steps_done < state.blending_steps_total:
            slot.update_alpha_for_step(state.blending_steps_done + 1)
        if state.blending_steps_done >= state.blending_steps_total:
            return slot.advance_stage(SeedStage.SHADOWING)
        return None
    if stage == SeedStage.SHADOWING:
        if dwell >= _dwell(slot, "shadowing_fraction", slot.gates.min_shadowing_epochs):
            return slot.advance_stage(SeedStage.PROBATIONARY)
        return None
    if is_failure_stage(stage):
        # No accuracy is recorded for a culled seed, so the embargo counts its epochs here.
        state.increment_epoch()
        if stage == SeedStage.EMBARGOED and dwell + 1 < slot.gates.embargo_epochs:
            return None
        return slot.advance_stage()
    return None  # PROBATIONARY and FOSSILIZED wait for a decision
