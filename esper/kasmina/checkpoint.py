"""The slot's checkpoint record: its lifecycle state as plain Python values.

`SeedSlot.get_extra_state` / `set_extra_state` delegate here. The record holds
only primitives, lists and dicts, so `torch.load(weights_only=True)` reads it.
On load the seed module is rebuilt from its blueprint before
`load_state_dict` visits the slot's children and fills the seed's weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch.nn as nn

from esper.kasmina.blueprints import BlueprintRegistry
from esper.kasmina.isolation import AlphaSchedule
from esper.kasmina.state import SeedState
from esper.leyline import SeedMetrics, SeedStage

if TYPE_CHECKING:
    from esper.kasmina.slot import SeedSlot

EXTRA_STATE_VERSION = 1


def encode_slot_record(slot: SeedSlot) -> dict[str, Any]:
    state = slot.state
    schedule = slot._schedule
    return {
        "version": EXTRA_STATE_VERSION,
        "alpha": slot.alpha,
        "isolate_gradients": slot.isolate_gradients,
        "blend_step": slot._blend_step,
        "schedule": None
        if schedule is None
        else [schedule.total_steps, schedule.start, schedule.end, schedule.temperature],
        "seed": None
        if state is None
        else {
            "seed_id": state.seed_id,
            "blueprint_id": state.blueprint_id,
            "topology": state.topology,
            "blueprint_kwargs": dict(state.blueprint_kwargs),
            "stage": int(state.stage),
            "previous_stage": int(state.previous_stage),
            "has_module": slot.seed is not None,
            "metrics": state.metrics.to_dict(),
        },
    }


def decode_slot_record(slot: SeedSlot, record: dict[str, Any]) -> None:
    version = record.get("version") if isinstance(record, dict) else None
    if version != EXTRA_STATE_VERSION:
        raise ValueError(
            f"slot {slot.slot_id!r}: checkpoint extra state version {version!r} "
            f"is not supported (expected {EXTRA_STATE_VERSION})"
        )
    seed_record = record["seed"]
    seed: nn.Module | None = None
    state: SeedState | None = None
    if seed_record is not None:
        state = SeedState(
            owner=slot,
            seed_id=seed_record["seed_id"],
            blueprint_id=seed_record["blueprint_id"],
            topology=seed_record["topology"],
            blueprint_kwargs=seed_record["blueprint_kwargs"],
            stage=SeedStage(seed_record["stage"]),
            previous_stage=SeedStage(seed_record["previous_stage"]),
            metrics=SeedMetrics.from_dict(seed_record["metrics"]),
        )
        if seed_record["has_module"]:
            seed = BlueprintRegistry.create(
                state.topology, state.blueprint_id, slot.channels, **state.blueprint_kwargs
            ).to(slot.device)
            seed.train(slot.training)
    schedule = record["schedule"]
    slot.seed = seed
    slot.state = state
    slot._schedule = (
        None
        if schedule is None
        else AlphaSchedule(
            total_steps=schedule[0], start=schedule[1], end=schedule[2], temperature=schedule[3]
        )
    )
    slot._blend_step = int(record["blend_step"])
    slot.isolate_gradients = bool(record["isolate_gradients"])
    slot.set_alpha(record["alpha"])  # also refreshes the forward flags
