"""drive_to_stage: put a slot's seed into a lifecycle stage through legal transitions.

For tests, audits and benchmarks that need "a host with a seed in BLENDING at
alpha 0.3". It walks the real transitions with permissive gates, so the slot's
state is exactly what training would have produced, minus the epochs.
"""

from __future__ import annotations

import torch.nn as nn

from esper.kasmina.slot import QualityGates, SeedSlot
from esper.leyline import HAPPY_PATH, SeedStage

# No dwell times or improvement thresholds: every gate passes on a fresh seed, except
# G5, which needs a measured counterfactual contribution (drive_to_stage supplies one).
PERMISSIVE_GATES = QualityGates(
    min_training_epochs=0,
    min_training_improvement=float("-inf"),
    min_blending_epochs=0,
    min_shadowing_epochs=0,
    min_fossilize_contribution=float("-inf"),
)

# The contribution drive_to_stage records before FOSSILIZED when none was measured.
DRIVEN_COUNTERFACTUAL = 1.0

REACHABLE_STAGES = (*HAPPY_PATH, SeedStage.DORMANT, SeedStage.CULLED)


def drive_to_stage(
    slot: SeedSlot,
    stage: SeedStage,
    *,
    blueprint_id: str,
    alpha: float | None = None,
    seed_id: str | None = None,
    host_module: nn.Module | None = None,
) -> None:
    """Germinate `blueprint_id` in an empty `slot` and advance it to `stage`.

    `alpha` applies to BLENDING (default 0.5). DORMANT leaves the slot empty;
    CULLED germinates, starts training, then moves to CULLED (the seed is dropped,
    the state stays for the embargo). Before FOSSILIZED a seed with no measured
    counterfactual contribution is given DRIVEN_COUNTERFACTUAL, so G5 passes.
    """
    stage = SeedStage(stage)
    if stage not in REACHABLE_STAGES:
        raise ValueError(
            f"drive_to_stage cannot reach {stage.name}; "
            f"reachable: {[s.name for s in REACHABLE_STAGES]}"
        )
    if stage == SeedStage.DORMANT:
        return
    gates, slot.gates = slot.gates, PERMISSIVE_GATES
    try:
        slot.germinate(blueprint_id, seed_id, host_module=host_module)
        if stage == SeedStage.CULLED:
            slot.advance_stage(SeedStage.TRAINING)
            slot.advance_stage(SeedStage.CULLED)
            return
        for next_stage in HAPPY_PATH[1 : HAPPY_PATH.index(stage) + 1]:
            if next_stage == SeedStage.SHADOWING:
                slot.set_alpha(1.0)  # G3 wants the ramp finished
            state = slot.state
            if next_stage == SeedStage.FOSSILIZED and state is not None:
                if state.metrics.counterfactual_contribution is None:
                    state.metrics.counterfactual_contribution = DRIVEN_COUNTERFACTUAL
            result = slot.advance_stage(next_stage)
            if not result.passed:  # only possible with a user-registered gate override
                raise RuntimeError(f"gate refused {next_stage.name}: {result.message}")
        if stage == SeedStage.BLENDING:
            slot.set_alpha(0.5 if alpha is None else alpha)
        elif alpha is not None:
            slot.set_alpha(alpha)
    finally:
        slot.gates = gates


__all__ = ["DRIVEN_COUNTERFACTUAL", "PERMISSIVE_GATES", "REACHABLE_STAGES", "drive_to_stage"]
