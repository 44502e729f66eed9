"""SeedSlot: an injection point that grafts a seed into a host and grows it.

The slot's forward is pure tensor work chosen by bools the lifecycle sets
(dynamo guards them by value): each stage compiles once. Alpha, which moves
every step while blending, lives in a tensor buffer updated in place, so the
ramp never recompiles. Everything else (gates, telemetry, metrics) happens in
methods called between steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import torch
import torch.nn as nn

from esper.kasmina.blueprints import TOPOLOGIES, BlueprintRegistry
from esper.kasmina.checkpoint import decode_slot_record, encode_slot_record
from esper.kasmina.errors import SeedShapeError, SlotOccupiedError
from esper.kasmina.gates import QualityGates
from esper.kasmina.isolation import (
    AlphaSchedule,
    GradientIsolationMonitor,
    blend_with_isolation,
    ste_forward,
)
from esper.kasmina.pace import blending_steps, step_epoch
from esper.kasmina.state import SeedState
from esper.leyline import (
    VALID_TRANSITIONS,
    GateLevel,
    GateResult,
    SeedMetrics,
    SeedStage,
    SeedStateReport,
    TelemetryEvent,
    TelemetryEventType,
    is_active_stage,
    is_failure_stage,
)

__all__ = [
    "QualityGates",
    "SeedMetrics",
    "SeedShapeError",
    "SeedSlot",
    "SeedState",
    "SlotOccupiedError",
]

# Stages whose forward runs the seed. GERMINATED holds a seed that does not act yet.
_SEED_RUNS = frozenset(
    {
        SeedStage.TRAINING,
        SeedStage.BLENDING,
        SeedStage.SHADOWING,
        SeedStage.PROBATIONARY,
        SeedStage.FOSSILIZED,
    }
)
DEFAULT_BLENDING_STEPS = 5  # the alpha ramp's length without a task_config


def _clamped_alpha(value: float | torch.Tensor) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"alpha must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()  # called between steps, never from forward
    value = float(value)
    if math.isnan(value):
        raise ValueError("alpha must be a number in [0, 1], got nan")
    return min(max(value, 0.0), 1.0)


def _resolve_topology(value: Any, source: str) -> str:
    topology = getattr(value, "topology", value)
    if topology not in TOPOLOGIES:
        raise ValueError(
            f"{source} names topology {topology!r}; known topologies: {list(TOPOLOGIES)}"
        )
    return topology


class SeedSlot(nn.Module):
    """An injection point holding at most one seed and driving its lifecycle."""

    seed: nn.Module | None
    alpha_tensor: torch.Tensor

    def __init__(
        self,
        slot_id: str,
        channels: int,
        device: torch.device | str = "cpu",
        gates: QualityGates | None = None,
        on_telemetry: Callable[[TelemetryEvent], None] | None = None,
        fast_mode: bool = False,
        task_config: Any = None,
    ) -> None:
        super().__init__()
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        self.slot_id = slot_id
        self.channels = channels
        self.gates = gates if gates is not None else QualityGates()
        self.on_telemetry = on_telemetry
        self.fast_mode = fast_mode
        self.task_config = task_config
        # Topology precedence: task_config, then the host (bind_host/germinate), then "cnn".
        self._configured_topology = (
            _resolve_topology(task_config, "task_config") if task_config is not None else None
        )
        self._host_topology: str | None = None
        self.register_module("seed", None)
        self._state: SeedState | None = None
        # Non-persistent: the checkpoint keeps alpha as a float in the extra state.
        self.register_buffer("alpha_tensor", torch.zeros(()), persistent=False)
        self._alpha_value = 0.0
        self.isolate_gradients = True
        self.isolation_monitor = GradientIsolationMonitor()
        self.alpha_schedule: AlphaSchedule | None = None
        self._refresh_forward_flags()
        self.to(device)

    # ----------------------------------------------------------------- properties
    @property
    def device(self) -> torch.device:
        # Derived from a buffer, so Module.to() keeps it right without an override.
        return self.alpha_tensor.device

    @property
    def topology(self) -> str:
        return self._configured_topology or self._host_topology or "cnn"

    @property
    def alpha(self) -> float:
        return self._alpha_value

    @property
    def state(self) -> SeedState | None:
        return self._state

    @state.setter
    def state(self, state: SeedState | None) -> None:
        """Attach `state` (its alpha becomes the slot's) and detach the one it replaces."""
        if self._state is not None and self._state is not state:
            self._state.attach(None)
        self._state = state
        if state is not None:
            state.attach(self)
        self._refresh_forward_flags()

    @property
    def stage(self) -> SeedStage:
        return self._state.stage if self._state is not None else SeedStage.DORMANT

    @property
    def is_active(self) -> bool:
        return self.seed is not None and self._state is not None and is_active_stage(self.stage)

    @property
    def active_seed_params(self) -> int:
        """Trainable parameters of the seed (0 when the slot is empty)."""
        return sum(p.numel() for p in self.get_parameters() if p.requires_grad)

    def get_parameters(self) -> Iterator[nn.Parameter]:
        """The seed's parameters (none when the slot is empty)."""
        return iter(()) if self.seed is None else self.seed.parameters()

    def bind_host(self, host: nn.Module) -> None:
        """Called by a host's register_slot: the host tells the slot its topology."""
        topology = getattr(host, "topology", None)
        if isinstance(topology, str):
            self._host_topology = _resolve_topology(topology, f"host {type(host).__name__}")
            self._refresh_forward_flags()

    # ----------------------------------------------------------------- forward
    def validate_input(self, host_features: torch.Tensor) -> None:
        """Raise ValueError for features this slot cannot take (Python only, no sync)."""
        if self.topology == "cnn":
            expected = f"(B, {self.channels}, H, W)"
            ok = host_features.dim() == 4 and host_features.shape[1] == self.channels
        else:
            expected = f"(B, T, {self.channels})"
            ok = host_features.dim() == 3 and host_features.shape[-1] == self.channels
        if not ok:
            raise ValueError(
                f"slot {self.slot_id!r} ({self.topology}) expects features of shape {expected}, "
                f"got {tuple(host_features.shape)}"
            )

    def forward(self, host_features: torch.Tensor) -> torch.Tensor:
        # Shape checks read static metadata: free under compile on the happy path.
        self.validate_input(host_features)
        if not self._seed_runs:
            return host_features
        seed_input = host_features.detach() if self.isolate_gradients else host_features
        seed_features = self.seed(seed_input)  # type: ignore[misc]  # _seed_runs implies a seed
        if self._use_ste:
            return ste_forward(host_features, seed_features)
        return blend_with_isolation(
            host_features, seed_features, self.alpha_tensor, detach_host=self._detach_host
        )

    def state_changed(self, state: SeedState) -> None:
        """Called by an attached SeedState whenever its stage is assigned."""
        if state is self._state:
            self._refresh_forward_flags()

    def _refresh_forward_flags(self) -> None:
        """Recompute the bools the forward branches on; called on every state change.

        The forward reads plain bools, never the stage enum: dynamo guards a bool
        by value. Guarding on the enum is unsound in torch 2.13: after
        `stage in <frozenset of stages>` it dropped the guard on the stage, and
        a TRAINING graph was reused in BLENDING (measured; see
        tests/esper/kasmina/test_compile.py::test_stage_change_never_reuses_a_stale_graph).
        """
        stage = self.stage
        runs = self.seed is not None and stage in _SEED_RUNS
        self._seed_runs = runs
        self._use_ste = runs and stage == SeedStage.TRAINING and self._alpha_value == 0.0
        # The transformer residual stream keeps its host gradient; a CNN's is cut.
        self._detach_host = self.topology == "cnn"

    # ----------------------------------------------------------------- alpha
    def set_alpha(self, value: float | torch.Tensor) -> None:
        """Set the blend weight, clamped to [0, 1]. Raises ValueError for nan."""
        value = _clamped_alpha(value)
        with torch.no_grad():
            self.alpha_tensor.fill_(value)  # in place: compiled graphs read the same buffer
        self._alpha_value = value
        if self._state is not None:
            self._state.metrics.current_alpha = value
        self._refresh_forward_flags()

    @contextmanager
    def force_alpha(self, value: float) -> Iterator[None]:
        """Temporarily use another alpha, e.g. 0.0 for a counterfactual evaluation."""
        previous = self._alpha_value
        self.set_alpha(value)
        try:
            yield
        finally:
            self.set_alpha(previous)

    def start_blending(self, total_steps: int, temperature: float = 1.0) -> None:
        """Install `alpha_schedule`, a ramp from 0 to 1 over `total_steps` steps."""
        self.alpha_schedule = AlphaSchedule(total_steps=total_steps, temperature=temperature)
        if self._state is not None:
            self._state.blending_steps_total = total_steps
            self._state.blending_steps_done = 0
        self._emit(
            TelemetryEventType.SEED_BLENDING_STARTED,
            {"total_steps": total_steps, "temperature": temperature},
        )

    def update_alpha_for_step(self, step: int) -> float:
        """Move alpha along the ramp to `step`; returns the alpha (unchanged without a ramp)."""
        if self.alpha_schedule is None:
            return self._alpha_value
        self.set_alpha(self.alpha_schedule(step))
        if self._state is not None:
            self._state.blending_steps_done = step
            self._state.metrics.alpha_ramp_step = step
        return self._alpha_value

    # ----------------------------------------------------------------- lifecycle
    def germinate(
        self,
        blueprint_id: str,
        seed_id: str | None = None,
        host_module: nn.Module | None = None,
        **blueprint_kwargs: Any,
    ) -> SeedState:
        """Create a seed from a blueprint in this empty slot; the seed starts GERMINATED."""
        if self._state is not None and self._state.stage != SeedStage.DORMANT:
            raise SlotOccupiedError(
                f"slot {self.slot_id!r} already holds seed {self._state.seed_id!r} in stage "
                f"{self._state.stage.name}; cull it, or wait until the slot is DORMANT again"
            )
        if seed_id is not None and (not isinstance(seed_id, str) or not seed_id):
            raise ValueError(f"seed_id must be a non-empty string or None, got {seed_id!r}")
        # A test double standing in for a host may carry a non-string `topology`: ignored.
        host_topology = None
        if isinstance(getattr(host_module, "topology", None), str):
            host_topology = _resolve_topology(host_module, f"host {type(host_module).__name__}")
        topology = self._configured_topology or host_topology or self.topology
        # Build and probe before touching any state: a refused seed changes nothing.
        seed = BlueprintRegistry.create(topology, blueprint_id, self.channels, **blueprint_kwargs)
        seed = seed.to(self.device)
        self._probe_shape(seed, topology, blueprint_id)
        seed.train(self.training)

        state = SeedState(
            seed_id or f"{self.slot_id}-{blueprint_id}",
            blueprint_id,
            slot_id=self.slot_id,
            topology=topology,
            blueprint_kwargs=blueprint_kwargs,
        )
        state.transition(SeedStage.GERMINATED)
        self.seed = seed
        if host_topology is not None:
            self._host_topology = host_topology
        if host_module is not None:
            self.isolation_monitor.register(host_module, seed)
        self.isolate_gradients = True
        self.alpha_schedule = None
        self.state = state  # attaching sets alpha to the state's 0.0
        self._emit(
            TelemetryEventType.SEED_GERMINATED,
            {
                "blueprint_id": blueprint_id,
                "seed_id": state.seed_id,
                "params": self.active_seed_params,
            },
        )
        return state

    def _probe_shape(self, seed: nn.Module, topology: str, blueprint_id: str) -> None:
        if topology == "cnn":
            probe = torch.zeros(2, self.channels, 4, 4, device=self.device)
        else:
            probe = torch.zeros(2, 4, self.channels, device=self.device)
        was_training = seed.training
        seed.eval()  # no BatchNorm statistics move during the probe
        with torch.no_grad():
            out = seed(probe)
        seed.train(was_training)
        if not isinstance(out, torch.Tensor) or out.shape != probe.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise SeedShapeError(
                f"blueprint {blueprint_id!r} ({topology}) changed shape "
                f"{tuple(probe.shape)} -> {got}; seeds must keep the feature shape"
            )

    def advance_stage(self, target_stage: SeedStage | None = None) -> GateResult:
        """Move to `target_stage` (default: the next legal stage off the culling path)
        if its gate passes. A refused or illegal move returns a failed GateResult and
        changes nothing; it never raises."""
        state = self._state
        if state is None:
            return GateResult(
                GateLevel.G0, False, 0.0, [], ["no_active_seed"],
                f"slot {self.slot_id!r} has no seed; germinate one first",
            )  # fmt: skip
        if target_stage is None:
            allowed = VALID_TRANSITIONS[state.stage]
            onward = [s for s in allowed if not is_failure_stage(s)] or list(allowed)
            if not onward:
                return GateResult(
                    GateLevel.G0, False, 0.0, [], ["transition_failed"],
                    f"seed {state.seed_id!r} is {state.stage.name}, a terminal stage",
                )  # fmt: skip
            target_stage = onward[0]
        target = SeedStage(target_stage)
        result = self.gates.check_gate(state, target)
        if not result.passed:
            self._emit(
                TelemetryEventType.GATE_FAILED, {"gate": result.gate.name, "target": target.name}
            )
            return result
        if not state.can_transition_to(target):
            allowed_names = [s.name for s in VALID_TRANSITIONS[state.stage]]
            return replace(
                result,
                passed=False,
                checks_failed=[*result.checks_failed, "transition_failed"],
                message=f"illegal transition {state.stage.name} -> {target.name}; "
                f"allowed from {state.stage.name}: {allowed_names}",
            )
        self._enter(state, target)
        return result

    def _enter(self, state: SeedState, target: SeedStage) -> None:
        # Taken before transition() resets the stage's dwell and baseline.
        outcome = self._outcome(state)
        if target == SeedStage.BLENDING:
            state.metrics.mark_blending_start()
        state.transition(target)
        self._emit(
            TelemetryEventType.SEED_STAGE_CHANGED,
            {"from": state.previous_stage.name, "to": target.name},
            state=state,
        )
        if target == SeedStage.TRAINING:
            self.set_alpha(0.0)
            self.isolate_gradients = True
        elif target == SeedStage.BLENDING and self.alpha_schedule is None:
            self.start_blending(blending_steps(self), self.gates.blend_temperature)
        elif target == SeedStage.FOSSILIZED:
            self.set_alpha(1.0)
            self.isolate_gradients = False  # the seed is part of the host now
        elif target == SeedStage.CULLED:
            self._drop_seed()
        if target == SeedStage.FOSSILIZED:
            outcome["params_added"] = self.active_seed_params
            self._emit(TelemetryEventType.SEED_FOSSILIZED, outcome, state=state)
        elif target == SeedStage.CULLED:
            outcome["reason"] = "advance_stage(CULLED)"
            self._emit(TelemetryEventType.SEED_CULLED, outcome, state=state)
        elif target == SeedStage.DORMANT:
            self.state = None  # the slot is empty and may germinate again

    def cull(self, reason: str = "") -> bool:
        """Remove the seed, its state and its alpha ramp. Returns False, changing
        nothing, for an empty slot or a FOSSILIZED seed (fossils are permanent)."""
        state = self._state
        if state is None or state.stage == SeedStage.FOSSILIZED:
            return False
        outcome = {**self._outcome(state), "reason": reason}
        self._drop_seed()
        self.state = None
        self._emit(TelemetryEventType.SEED_CULLED, outcome, state=state)
        return True

    def _drop_seed(self) -> None:
        self.seed = None
        self.alpha_schedule = None
        self.isolation_monitor.reset()
        self.set_alpha(0.0)

    def _outcome(self, state: SeedState) -> dict[str, Any]:
        m = state.metrics
        return {
            "blueprint_id": state.blueprint_id,
            "seed_id": state.seed_id,
            "improvement": m.total_improvement,
            "blending_delta": m.blending_delta,
            "counterfactual": m.counterfactual_contribution,
            "epochs_total": m.epochs_total,
            "epochs_in_stage": m.epochs_in_current_stage,
        }

    # ----------------------------------------------------------------- epochs
    def step_epoch(self) -> GateResult | None:
        """Advance the mechanical lifecycle by one epoch (see `esper.kasmina.pace`);
        returns the gate result when a transition was attempted, else None. It never
        fossilizes and counts no epochs: `record_accuracy` does."""
        return step_epoch(self)

    def record_accuracy(self, accuracy: float | torch.Tensor) -> None:
        """Record this epoch's validation accuracy (float or 0-d tensor) and count the
        epoch; the gates read it."""
        if self._state is None:
            raise ValueError(f"slot {self.slot_id!r} has no seed; germinate one first")
        self._state.metrics.record_accuracy(accuracy)

    def get_state_report(self) -> SeedStateReport:
        slot_facts: dict[str, Any] = dict(
            slot_id=self.slot_id,
            topology=self.topology,
            alpha=self._alpha_value,
            isolate_gradients=self.isolate_gradients,
            is_active=self.is_active,
            seed_params=self.active_seed_params,
        )
        if self._state is None:
            return SeedStateReport(stage=SeedStage.DORMANT, **slot_facts)
        return replace(self._state.to_report(), **slot_facts)

    # ----------------------------------------------------------------- checkpoints
    def get_extra_state(self) -> dict[str, Any]:
        """Plain Python values only, so torch.load(weights_only=True) can read them."""
        return encode_slot_record(self)

    def set_extra_state(self, record: dict[str, Any]) -> None:
        decode_slot_record(self, record)

    # ----------------------------------------------------------------- helpers
    def _emit(
        self, event_type: TelemetryEventType, data: dict[str, Any], state: SeedState | None = None
    ) -> None:
        if self.fast_mode or self.on_telemetry is None:
            return
        state = state or self._state
        seed_id = state.seed_id if state is not None else None
        self.on_telemetry(TelemetryEvent(event_type, seed_id, self.slot_id, data))

    def extra_repr(self) -> str:
        return f"slot_id={self.slot_id!r}, channels={self.channels}, stage={self.stage.name}"
