"""SeedSlot: an injection point that grafts a seed into a host and grows it.

The slot's forward is pure tensor work chosen by the lifecycle stage, a Python
value dynamo guards on: each stage compiles once. Alpha, which moves every step
while blending, lives in a tensor buffer updated in place, so the ramp never
recompiles. Everything else (gates, telemetry, metrics) happens in methods
called between steps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn as nn

from esper.kasmina.blueprints import TOPOLOGIES, BlueprintRegistry
from esper.kasmina.checkpoint import decode_slot_record, encode_slot_record
from esper.kasmina.gates import QualityGates
from esper.kasmina.isolation import (
    AlphaSchedule,
    GradientIsolationMonitor,
    blend_with_isolation,
    ste_forward,
)
from esper.kasmina.state import SeedState
from esper.leyline import (
    HAPPY_PATH,
    VALID_TRANSITIONS,
    GateLevel,
    GateResult,
    SeedMetrics,
    SeedStage,
    SeedStateReport,
    TelemetryEvent,
    TelemetryEventType,
    is_active_stage,
    is_cullable_stage,
)

__all__ = ["QualityGates", "SeedMetrics", "SeedSlot", "SeedState"]

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


def _validated_alpha(value: float | torch.Tensor) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"alpha must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()  # called between steps, never from forward
    value = float(value)
    if not (0.0 <= value <= 1.0):  # also false for nan
        raise ValueError(f"alpha must be a finite number in [0, 1], got {value!r}")
    return value


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
        self.state: SeedState | None = None
        # Non-persistent: the checkpoint keeps alpha as a float in the extra state.
        self.register_buffer("alpha_tensor", torch.zeros(()), persistent=False)
        self._alpha_value = 0.0
        self.isolate_gradients = True
        self.isolation_monitor = GradientIsolationMonitor()
        self._schedule: AlphaSchedule | None = None
        self._blend_step = 0
        self._seed_counter = itertools.count(1)
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
    def stage(self) -> SeedStage:
        return self.state.stage if self.state is not None else SeedStage.DORMANT

    @property
    def is_active(self) -> bool:
        return (
            self.seed is not None and self.state is not None and is_active_stage(self.state.stage)
        )

    @property
    def active_seed_params(self) -> int:
        return sum(p.numel() for p in self.get_parameters())

    def get_parameters(self) -> Iterator[nn.Parameter]:
        """The seed's parameters (none when the slot is empty)."""
        return iter(()) if self.seed is None else self.seed.parameters()

    def bind_host(self, host: nn.Module) -> None:
        """Called by a host's register_slot: the host tells the slot its topology."""
        topology = getattr(host, "topology", None)
        if topology is not None:
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

    def _refresh_forward_flags(self) -> None:
        """Recompute the bools the forward branches on; called on every state change.

        The forward reads plain bools, never the stage enum: dynamo guards a bool
        by value. Guarding on the enum is unsound in torch 2.13: after
        `stage in <frozenset of stages>` it dropped the guard on the stage, and
        a TRAINING graph was reused in BLENDING (measured; see
        tests/esper/kasmina/test_compile.py::test_stage_change_never_reuses_a_stale_graph).
        """
        state = self.state
        stage = state.stage if state is not None else SeedStage.DORMANT
        runs = self.seed is not None and stage in _SEED_RUNS
        self._seed_runs = runs
        self._use_ste = runs and stage == SeedStage.TRAINING and self._alpha_value == 0.0
        # The transformer residual stream keeps its host gradient; a CNN's is cut (reference).
        self._detach_host = self.topology == "cnn"

    # ----------------------------------------------------------------- alpha
    def set_alpha(self, value: float | torch.Tensor) -> None:
        """Set the blend weight. Raises ValueError for nan or values outside [0, 1]."""
        value = _validated_alpha(value)
        with torch.no_grad():
            self.alpha_tensor.fill_(value)  # in place: compiled graphs read the same buffer
        self._alpha_value = value
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
        """Install the alpha ramp from the current alpha to 1 over `total_steps` steps."""
        self._schedule = AlphaSchedule(
            total_steps=total_steps, start=self._alpha_value, end=1.0, temperature=temperature
        )
        self._blend_step = 0
        self._emit(
            TelemetryEventType.SEED_BLENDING_STARTED,
            {"total_steps": total_steps, "temperature": temperature},
        )

    def update_alpha_for_step(self, step: int) -> float:
        """Move alpha along the ramp to `step`; returns the new alpha."""
        if self._schedule is None:
            raise ValueError(
                f"slot {self.slot_id!r} has no alpha ramp; call start_blending(total_steps) first"
            )
        self._blend_step = step
        self.set_alpha(self._schedule(step))
        return self._alpha_value

    # ----------------------------------------------------------------- lifecycle
    def germinate(
        self,
        blueprint_id: str,
        seed_id: str | None = None,
        host_module: nn.Module | None = None,
        **blueprint_kwargs: Any,
    ) -> SeedState:
        """Create a seed from a blueprint. The slot must be empty (no seed, or DORMANT)."""
        if self.state is not None and self.state.stage != SeedStage.DORMANT:
            raise ValueError(
                f"slot {self.slot_id!r} already holds seed {self.state.seed_id!r} in stage "
                f"{self.state.stage.name}; cull it, or wait until the slot is DORMANT again"
            )
        if seed_id is not None and (not isinstance(seed_id, str) or not seed_id):
            raise ValueError(f"seed_id must be a non-empty string or None, got {seed_id!r}")
        host_topology = None
        if host_module is not None and getattr(host_module, "topology", None) is not None:
            host_topology = _resolve_topology(host_module, f"host {type(host_module).__name__}")
        topology = self._configured_topology or host_topology or self.topology
        # Build and probe before touching any state: a refused seed changes nothing.
        seed = BlueprintRegistry.create(topology, blueprint_id, self.channels, **blueprint_kwargs)
        seed = seed.to(self.device)
        self._probe_shape(seed, topology, blueprint_id)
        seed.train(self.training)

        self.seed = seed
        self.state = SeedState(
            owner=self,
            seed_id=seed_id or f"{self.slot_id}-{blueprint_id}-{next(self._seed_counter)}",
            blueprint_id=blueprint_id,
            topology=topology,
            blueprint_kwargs=blueprint_kwargs,
        )
        if host_topology is not None:
            self._host_topology = host_topology
        if host_module is not None:
            self.isolation_monitor.register(host_module, seed)
        self.set_alpha(0.0)
        self.isolate_gradients = True
        self._schedule = None
        self._emit(TelemetryEventType.SEED_GERMINATED, {"blueprint_id": blueprint_id})
        return self.state

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
            raise ValueError(
                f"blueprint {blueprint_id!r} ({topology}) changes the feature shape "
                f"{tuple(probe.shape)} -> {got}; seeds must keep the shape"
            )

    def advance_stage(self, target: SeedStage | None = None) -> GateResult:
        """Move to `target` (default: the next stage) if its gate passes.

        An illegal transition raises ValueError and changes nothing; a gate that
        refuses returns a failed GateResult and changes nothing.
        """
        state = self._require_state("advance_stage")
        current = state.stage
        allowed = VALID_TRANSITIONS[current]
        if target is None:
            if not allowed:
                raise ValueError(
                    f"seed {state.seed_id!r} is {current.name}, a terminal stage; nothing follows"
                )
            target = allowed[0]
        target = SeedStage(target)
        if target not in allowed:
            raise ValueError(
                f"illegal transition {current.name} -> {target.name}; "
                f"allowed from {current.name}: {[s.name for s in allowed]}"
            )
        if target == SeedStage.CULLED:
            self.cull("advance_stage(CULLED)")
            return GateResult(GateLevel.G0, True, 1.0, ("cull",), (), "culled")
        if target in HAPPY_PATH:
            result = self.gates.evaluate(
                target, state.metrics, alpha=self._alpha_value, has_seed=self.seed is not None
            )
        else:  # the embargo path after a cull has no quality gate
            result = GateResult(GateLevel.G0, True, 1.0, ("failure_path",), (), target.name)
        if not result.passed:
            self._emit(
                TelemetryEventType.GATE_FAILED, {"gate": result.gate.name, "target": target.name}
            )
            return result
        self._enter(target)
        return result

    def _enter(self, target: SeedStage) -> None:
        state = self._require_state("_enter")
        state.previous_stage, state.stage = state.stage, target
        state.metrics.epochs_in_current_stage = 0
        state.metrics.accuracy_at_stage_start = state.metrics.current_val_accuracy
        if target == SeedStage.TRAINING:
            self.set_alpha(0.0)
            self.isolate_gradients = True
        elif target == SeedStage.BLENDING and self._schedule is None:
            self.start_blending(self.gates.blending_epochs, self.gates.blend_temperature)
        elif target == SeedStage.FOSSILIZED:
            self.set_alpha(1.0)
            self.isolate_gradients = False  # the seed is part of the host now
        elif target == SeedStage.DORMANT:
            self.state = None
            self.set_alpha(0.0)
        data = {"from": state.previous_stage.name, "to": target.name}
        self._emit(TelemetryEventType.SEED_STAGE_CHANGED, data, state=state)
        if target == SeedStage.FOSSILIZED:
            self._emit(TelemetryEventType.SEED_FOSSILIZED, {}, state=state)

    def cull(self, reason: str = "") -> bool:
        """Remove the seed. Returns False, changing nothing, if there is none to cull
        or it is FOSSILIZED (fossils are permanent)."""
        state = self.state
        if state is None or self.seed is None or not is_cullable_stage(state.stage):
            return False
        state.previous_stage, state.stage = state.stage, SeedStage.CULLED
        state.metrics.epochs_in_current_stage = 0
        self.seed = None
        self._schedule = None
        self.set_alpha(0.0)
        self.isolation_monitor.reset()
        self._emit(
            TelemetryEventType.SEED_CULLED, {"reason": reason, "from": state.previous_stage.name}
        )
        return True

    def step_epoch(self) -> GateResult | None:
        """Advance the mechanical lifecycle by one epoch: dwell times, then the gate.

        In BLENDING each epoch is one step of the alpha ramp. Returns the gate
        result when a transition was attempted, else None.
        """
        state = self.state
        if state is None:
            return None
        state.metrics.epochs_total += 1
        state.metrics.epochs_in_current_stage += 1
        dwell = state.metrics.epochs_in_current_stage
        stage, g = state.stage, self.gates
        if stage == SeedStage.BLENDING:
            assert self._schedule is not None  # installed on entry to BLENDING
            self.update_alpha_for_step(self._blend_step + 1)
            if self._blend_step < self._schedule.total_steps:
                return None
            return self.advance_stage(SeedStage.SHADOWING)
        ready = {
            SeedStage.GERMINATED: True,
            SeedStage.TRAINING: dwell >= g.min_training_epochs,
            SeedStage.SHADOWING: dwell >= g.min_shadowing_epochs,
            SeedStage.PROBATIONARY: dwell >= g.min_probation_epochs,
            SeedStage.CULLED: True,
            SeedStage.EMBARGOED: dwell >= g.embargo_epochs,
            SeedStage.RESETTING: True,
        }.get(stage, False)
        return self.advance_stage() if ready else None

    def record_accuracy(self, accuracy: float) -> None:
        """Record a validation accuracy for the gates (G2 and G5 read it)."""
        self._require_state("record_accuracy").metrics.record_accuracy(accuracy)

    def get_state_report(self) -> SeedStateReport:
        state = self.state
        return SeedStateReport(
            slot_id=self.slot_id,
            seed_id=state.seed_id if state else None,
            blueprint_id=state.blueprint_id if state else None,
            topology=state.topology if state else None,
            stage=self.stage,
            previous_stage=state.previous_stage if state else SeedStage.UNKNOWN,
            alpha=self._alpha_value,
            isolate_gradients=self.isolate_gradients,
            is_active=self.is_active,
            seed_params=self.active_seed_params,
            metrics=SeedMetrics.from_dict(state.metrics.to_dict()) if state else None,
        )

    # ----------------------------------------------------------------- checkpoints
    def get_extra_state(self) -> dict[str, Any]:
        """Plain Python values only, so torch.load(weights_only=True) can read them."""
        return encode_slot_record(self)

    def set_extra_state(self, record: dict[str, Any]) -> None:
        decode_slot_record(self, record)

    # ----------------------------------------------------------------- helpers
    def _require_state(self, action: str) -> SeedState:
        if self.state is None:
            raise ValueError(f"slot {self.slot_id!r} has no seed; germinate one before {action}")
        return self.state

    def _emit(
        self, event_type: TelemetryEventType, data: dict[str, Any], state: SeedState | None = None
    ) -> None:
        if self.fast_mode or self.on_telemetry is None:
            return
        state = state or self.state
        payload = {"stage": state.stage.name if state else SeedStage.DORMANT.name, **data}
        self.on_telemetry(
            TelemetryEvent(event_type, state.seed_id if state else None, self.slot_id, payload)
        )

    def extra_repr(self) -> str:
        return f"slot_id={self.slot_id!r}, channels={self.channels}, stage={self.stage.name}"
