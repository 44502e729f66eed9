"""QualityGates: the G0..G5 checks a seed passes before each lifecycle transition."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from esper.leyline import GateLevel, GateResult, SeedStage

if TYPE_CHECKING:
    from esper.kasmina.state import SeedState

# The gate guarding entry into each stage. Stages off the happy path (the culling
# path, DORMANT) take G0: the seed must still be named.
GATE_FOR_STAGE: dict[SeedStage, GateLevel] = {
    SeedStage.GERMINATED: GateLevel.G0,
    SeedStage.TRAINING: GateLevel.G1,
    SeedStage.BLENDING: GateLevel.G2,
    SeedStage.SHADOWING: GateLevel.G3,
    SeedStage.PROBATIONARY: GateLevel.G4,
    SeedStage.FOSSILIZED: GateLevel.G5,
}

Check = tuple[str, bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityGates:
    """Thresholds of the gates, and the dwell times `SeedSlot.step_epoch` uses without a
    task_config."""

    min_training_improvement: float = 0.0  # G2: accuracy gained since TRAINING began
    min_training_epochs: int = 1  # G2: epochs in TRAINING before blending may start
    max_isolation_violations: int = 10  # G2: gradient isolation breaches tolerated
    min_blending_epochs: int = 1  # G3: epochs in BLENDING before SHADOWING
    min_blend_alpha: float = 0.95  # G3: how close to 1 alpha must be
    min_fossilize_contribution: float = 0.0  # G5: the counterfactual must exceed it
    # Accepted for the original package's callers; no gate reads them yet (G4 and G5
    # check the stage and the counterfactual contribution).
    min_shadowing_correlation: float = 0.9
    min_probation_stability: float = 0.9
    # Pace of step_epoch when the slot has no task_config.
    blending_epochs: int = 5  # length of the alpha ramp
    blend_temperature: float = 1.0  # steepness of that ramp (AlphaSchedule)
    min_shadowing_epochs: int = 1  # epochs in SHADOWING before PROBATIONARY
    embargo_epochs: int = 1  # epochs a culled seed's slot waits in EMBARGOED

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{f.name} must be a number, got {value!r}")
            if f.name.endswith("epochs") or f.name == "max_isolation_violations":
                if not isinstance(value, int) or value < 0:
                    raise ValueError(f"{f.name} must be an int >= 0, got {value!r}")
            elif math.isnan(value):
                raise ValueError(f"{f.name} must not be nan")
        if self.blending_epochs < 1:
            raise ValueError(f"blending_epochs must be >= 1, got {self.blending_epochs!r}")
        if not 0.0 <= self.min_blend_alpha <= 1.0:
            raise ValueError(f"min_blend_alpha must be in [0, 1], got {self.min_blend_alpha!r}")
        if not self.blend_temperature > 0.0:
            raise ValueError(f"blend_temperature must be > 0, got {self.blend_temperature!r}")

    def check_gate(self, state: SeedState, target_stage: SeedStage) -> GateResult:
        """Run the gate guarding entry into `target_stage`; every check is named."""
        target = SeedStage(target_stage)
        gate = GATE_FOR_STAGE.get(target, GateLevel.G0)
        checks = self._checks(gate, state)
        passed = [name for name, ok in checks if ok]
        failed = [name for name, ok in checks if not ok]
        verdict = "passed" if not failed else "failed: " + ", ".join(failed)
        return GateResult(
            gate=gate,
            passed=not failed,
            score=len(passed) / len(checks),
            checks_passed=passed,
            checks_failed=failed,
            message=f"{gate.name} for {target.name} {verdict}",
        )

    def _checks(self, gate: GateLevel, state: SeedState) -> list[Check]:
        m = state.metrics
        dwell = m.epochs_in_current_stage
        if gate == GateLevel.G0:
            return [
                ("seed_id_present", bool(state.seed_id)),
                ("blueprint_present", bool(state.blueprint_id)),
            ]
        if gate == GateLevel.G1:
            return [("stage_is_germinated", state.stage == SeedStage.GERMINATED)]
        if gate == GateLevel.G2:
            return [
                (
                    f"improvement>={self.min_training_improvement}",
                    m.improvement_since_stage_start >= self.min_training_improvement,
                ),
                (
                    f"isolation_violations<={self.max_isolation_violations}",
                    m.isolation_violations <= self.max_isolation_violations,
                ),
                (f"training_epochs>={self.min_training_epochs}", dwell >= self.min_training_epochs),
            ]
        if gate == GateLevel.G3:
            return [
                (f"blending_epochs>={self.min_blending_epochs}", dwell >= self.min_blending_epochs),
                (f"alpha>={self.min_blend_alpha}", state.alpha >= self.min_blend_alpha),
            ]
        if gate == GateLevel.G4:
            return [("stage_is_shadowing", state.stage == SeedStage.SHADOWING)]
        # G5: fossilizing is for good, so it needs a measured contribution, not a trend.
        contribution = m.counterfactual_contribution
        if contribution is None:
            return [("counterfactual_not_available", False), ("seed_healthy", state.is_healthy)]
        return [
            (
                f"counterfactual>{self.min_fossilize_contribution}",
                contribution > self.min_fossilize_contribution,
            ),
            ("seed_healthy", state.is_healthy),
        ]
