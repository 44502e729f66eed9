"""Training signals: what the training loop reports to a controller after each epoch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from esper.leyline.commands import utc_now
from esper.leyline.stages import SeedStage


@dataclass(slots=True)
class TrainingMetrics:
    """Host-level measurements of one epoch. Mutable: the loop fills it in."""

    epoch: int = 0
    global_step: int = 0
    train_loss: float = 0.0
    val_loss: float = 0.0
    loss_delta: float = 0.0  # val_loss change since the previous epoch
    train_accuracy: float = 0.0
    val_accuracy: float = 0.0
    accuracy_delta: float = 0.0  # val_accuracy change since the previous epoch
    plateau_epochs: int = 0  # epochs without a new best val_accuracy
    best_val_accuracy: float = 0.0
    best_val_loss: float = math.inf  # nothing measured yet: any loss is better
    grad_norm_host: float = 0.0
    grad_norm_seed: float = 0.0
    host_stabilized: int = 0  # 1 once the host's loss stopped moving (an int flag, as sent)


@dataclass(slots=True)
class TrainingSignals:
    """Everything a controller reads to decide on commands, in one record."""

    metrics: TrainingMetrics = field(default_factory=TrainingMetrics)
    active_seeds: list[str] = field(default_factory=list)
    available_slots: int = 0
    seed_stage: SeedStage = SeedStage.UNKNOWN
    seed_epochs_in_stage: int = 0
    seed_alpha: float = 0.0
    seed_improvement: float = 0.0
    seed_counterfactual: float = 0.0
    gpu_memory_used: float = 0.0
    gpu_utilization: float = 0.0
    loss_history: list[float] = field(default_factory=list)
    accuracy_history: list[float] = field(default_factory=list)
    epoch_duration_ms: float = 0.0
    timestamp: datetime = field(default_factory=utc_now)
