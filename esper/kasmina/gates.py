"""QualityGates: configurable thresholds for the G0..G5 lifecycle gates."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from esper.leyline import GateLevel, GateResult, SeedMetrics, SeedStage

# The gate guarding entry into each stage of the happy path.
GATE_FOR_STAGE: dict[SeedStage, GateLevel] = {
    SeedStage.GERMINATED: GateLevel.G0,
    SeedStage.TRAINING: GateLevel.G1,
    SeedStage.BLENDING: GateLevel.G2,
    SeedStage.SHADOWING: GateLevel.G3,
    SeedStage.PROBATIONARY: GateLevel.G4,
    SeedStage.FOSSILIZED: GateLevel.G5,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityGates:
    """Thresholds of the gates and dwell times of the mechanical lifecycle (step_epoch)."""

    min_training_epochs: int = 1  # G2: epochs in TRAINING before blending may start
    min_training_improvement: float = 0.0  # G2: accuracy gained while TRAINING
    max_isolation_violations: int = 10  # G2: gradient isolation breaches tolerated
    blending_epochs: int = 5  # length of the alpha ramp driven by step_epoch
    blend_temperature: float = 1.0  # steepness of that ramp (AlphaSchedule)
    min_blend_alpha: float = 0.95  # G3: alpha reached before SHADOWING
    min_shadowing_epochs: int = 1  # G4: epochs in SHADOWING
    min_probation_epochs: int = 1  # G5: epochs in PROBATIONARY
    min_fossilize_contribution: float = 0.0  # G5: contribution the seed must reach
    embargo_epochs: int = 1  # epochs a culled slot waits in EMBARGOED

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

    def evaluate(
        self, target: SeedStage, metrics: SeedMetrics, *, alpha: float, has_seed: bool
    ) -> GateResult:
        """Run the gate guarding `target`; every check is named in the result."""
        gate = GATE_FOR_STAGE[target]
        checks = self._checks(gate, metrics, alpha=alpha, has_seed=has_seed)
        passed = tuple(name for name, ok in checks if ok)
        failed = tuple(name for name, ok in checks if not ok)
        score = len(passed) / len(checks) if checks else 1.0
        verdict = "passed" if not failed else "failed: " + ", ".join(failed)
        return GateResult(
            gate=gate,
            passed=not failed,
            score=score,
            checks_passed=passed,
            checks_failed=failed,
            message=f"{gate.name} for {target.name} {verdict}",
        )

    def _checks(
        self, gate: GateLevel, m: SeedMetrics, *, alpha: float, has_seed: bool
    ) -> list[tuple[str, bool]]:
        dwell = m.epochs_in_current_stage
        if gate in (GateLevel.G0, GateLevel.G1):
            return [("seed_present", has_seed)]
        if gate == GateLevel.G2:
            return [
                (f"training_epochs>={self.min_training_epochs}", dwell >= self.min_training_epochs),
                (
                    f"improvement>={self.min_training_improvement}",
                    m.improvement_since_stage_start >= self.min_training_improvement,
                ),
                (
                    f"isolation_violations<={self.max_isolation_violations}",
                    m.isolation_violations <= self.max_isolation_violations,
                ),
            ]
        if gate == GateLevel.G3:
            return [(f"alpha>={self.min_blend_alpha}", alpha >= self.min_blend_alpha)]
        if gate == GateLevel.G4:
            return [
                (
                    f"shadowing_epochs>={self.min_shadowing_epochs}",
                    dwell >= self.min_shadowing_epochs,
                )
            ]
        # G5: a measured counterfactual contribution wins over the accuracy trend.
        contribution = m.counterfactual_contribution
        if contribution is None:
            contribution = m.total_improvement
        return [
            (f"probation_epochs>={self.min_probation_epochs}", dwell >= self.min_probation_epochs),
            (
                f"contribution>={self.min_fossilize_contribution}",
                contribution >= self.min_fossilize_contribution,
            ),
        ]
