"""Quality gates: the checks a seed passes before each lifecycle transition."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class GateLevel(IntEnum):
    """One gate per transition on the happy path."""

    G0 = 0  # germination sanity: the seed and its blueprint are named
    G1 = 1  # training readiness: the seed is GERMINATED
    G2 = 2  # blending readiness: the seed improved while training, isolation held
    G3 = 3  # shadowing readiness: enough blending epochs and the alpha ramp is complete
    G4 = 4  # probation readiness: the seed is SHADOWING
    G5 = 5  # fossilization: a measured, positive counterfactual contribution, healthy seed


# Positional order (gate, passed, score, checks_passed, checks_failed, message) and list
# fields follow the original package's GateResult, whose callers build and compare it so.
@dataclass(frozen=True, slots=True)
class GateResult:
    """The verdict of one gate; `checks_failed` names why a gate refused."""

    gate: GateLevel = GateLevel.G0
    passed: bool = False
    score: float = 0.0
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)
    message: str = ""
