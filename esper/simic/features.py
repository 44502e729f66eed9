"""TaskConfig: the facts about a training task that set the lifecycle's pace."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TaskConfig:
    """A task as the seed lifecycle sees it. `SeedSlot(task_config=...)` reads the
    topology, the dwell fractions and the blending length from it."""

    task_type: str  # "classification" or "lm"
    topology: str  # the host topology seeds are built for: "cnn" or "transformer"
    baseline_loss: float  # the loss of an untrained model (ln(num_classes) for classifiers)
    target_loss: float  # a loss that counts as solved
    typical_loss_delta_std: float  # epoch-to-epoch noise of the loss
    max_epochs: int
    max_steps: int = 10000
    shadowing_fraction: float = 0.1  # of max_epochs a seed dwells in SHADOWING
    train_to_blend_fraction: float = 0.1  # of max_epochs a seed trains before blending
    blending_steps: int = 5  # epochs of the alpha ramp

    def __post_init__(self) -> None:
        if not isinstance(self.max_epochs, int) or self.max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive int, got {self.max_epochs!r}")
        if not isinstance(self.blending_steps, int) or self.blending_steps < 1:
            raise ValueError(f"blending_steps must be a positive int, got {self.blending_steps!r}")
        for name in ("shadowing_fraction", "train_to_blend_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")

    def epochs_for(self, fraction: float) -> int:
        """A dwell of `fraction` of max_epochs, at least one epoch."""
        return max(1, int(fraction * self.max_epochs))

    @classmethod
    def for_cifar10(cls) -> TaskConfig:
        return cls(
            task_type="classification",
            topology="cnn",
            baseline_loss=2.3,  # ln(10)
            target_loss=0.3,
            typical_loss_delta_std=0.05,
            max_epochs=25,
            max_steps=10000,
        )

    @classmethod
    def for_tinystories(cls) -> TaskConfig:
        return cls(
            task_type="lm",
            topology="transformer",
            baseline_loss=10.8,  # ln(50257)
            target_loss=3.5,
            typical_loss_delta_std=0.15,
            max_epochs=50,
            max_steps=50000,
        )
