"""SeedState: the lifecycle record of one seed, owned by its SeedSlot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esper.leyline import SeedMetrics, SeedStage

if TYPE_CHECKING:
    from esper.kasmina.slot import SeedSlot


class SeedState:
    """The lifecycle record of one seed.

    `stage` and `alpha` may be assigned directly, as the reference API does
    (`slot.state.stage = SeedStage.TRAINING; slot.state.alpha = 0.0`): alpha
    assignments go through the owning slot into its tensor buffer.
    """

    def __init__(
        self,
        *,
        owner: SeedSlot,
        seed_id: str,
        blueprint_id: str,
        topology: str,
        blueprint_kwargs: dict[str, Any] | None = None,
        stage: SeedStage = SeedStage.GERMINATED,
        previous_stage: SeedStage = SeedStage.DORMANT,
        metrics: SeedMetrics | None = None,
    ) -> None:
        self._owner = owner
        self.seed_id = seed_id
        self.blueprint_id = blueprint_id
        self.topology = topology
        self.blueprint_kwargs = dict(blueprint_kwargs or {})
        self._stage = SeedStage(stage)
        self.previous_stage = SeedStage(previous_stage)
        self.metrics = metrics if metrics is not None else SeedMetrics()

    @property
    def stage(self) -> SeedStage:
        return self._stage

    @stage.setter
    def stage(self, value: SeedStage) -> None:
        self._stage = SeedStage(value)
        if self._owner.state is self:
            self._owner._refresh_forward_flags()

    @property
    def alpha(self) -> float:
        return self._owner.alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        self._owner.set_alpha(value)

    def __repr__(self) -> str:
        return (
            f"SeedState(seed_id={self.seed_id!r}, blueprint_id={self.blueprint_id!r}, "
            f"stage={self.stage.name}, alpha={self.alpha:.4f})"
        )
