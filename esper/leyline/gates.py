"""Quality gates: the checks a seed passes before each lifecycle transition."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class GateLevel(IntEnum):
    """One gate per transition on the happy path."""

    G0 = 0  # germination sanity: a seed and a blueprint exist
    G1 = 1  # training readiness: the seed is wired in and finite
    G2 = 2  # blending readiness: the host improved while the seed trained, isolation held
    G3 = 3  # shadowing readiness: the alpha ramp is complete
    G4 = 4  # probation readiness: the seed dwelt in SHADOWING long enough
    G5 = 5  # fossilization: the seed's contribution is positive


# Positional order follows the reference (gate, passed, score, checks_passed,
# checks_failed, message), so it is not keyword-only.
@dataclass(frozen=True, slots=True)
class GateResult:
    """The verdict of one gate; `checks_failed` says why a gate refused."""

    gate: GateLevel
    passed: bool
    score: float = 0.0
    checks_passed: tuple[str, ...] = field(default_factory=tuple)
    checks_failed: tuple[str, ...] = field(default_factory=tuple)
    message: str = ""
