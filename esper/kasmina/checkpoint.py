"""The slot's checkpoint record: its lifecycle state as plain Python values.

`SeedSlot.get_extra_state` / `set_extra_state` delegate here, through the slot's
public attributes only. The record holds only primitives, lists and dicts, so
`torch.load(weights_only=True)` reads it. On load the seed module is rebuilt
from its blueprint before `load_state_dict` visits the slot's children and
fills the seed's weights. Version 1 records (written before the state carried
its own blending counters, timestamps and history) still load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch.nn as nn

from esper.kasmina.blueprints import BlueprintRegistry
from esper.kasmina.isolation import AlphaSchedule
from esper.kasmina.state import SeedState

if TYPE_CHECKING:
    from esper.kasmina.slot import SeedSlot

EXTRA_STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)


def encode_slot_record(slot: SeedSlot) -> dict[str, Any]:
    state, schedule = slot.state, slot.alpha_schedule
    seed_record = None
    if state is not None:
        seed_record = {**state.to_record(), "has_module": slot.seed is not None}
    return {
        "version": EXTRA_STATE_VERSION,
        "alpha": slot.alpha,
        "isolate_gradients": slot.isolate_gradients,
        "schedule": None
        if schedule is None
        else [schedule.total_steps, schedule.start, schedule.end, schedule.temperature],
        "seed": seed_record,
    }


def _upgrade_v1(record: dict[str, Any]) -> dict[str, Any]:
    """Version 1 kept the ramp position on the slot; version 2 keeps it on the state."""
    seed = record["seed"]
    if seed is not None:
        schedule = record["schedule"]
        seed = {
            **seed,
            "blending_steps_done": int(record["blend_step"]),
            "blending_steps_total": schedule[0] if schedule is not None else 0,
        }
    return {**record, "version": 2, "seed": seed}


def decode_slot_record(slot: SeedSlot, record: dict[str, Any]) -> None:
    version = record.get("version") if isinstance(record, dict) else None
    if version not in READABLE_VERSIONS:
        raise ValueError(
            f"slot {slot.slot_id!r}: checkpoint extra state version {version!r} "
            f"is not supported (readable: {list(READABLE_VERSIONS)})"
        )
    if version == 1:
        record = _upgrade_v1(record)
    seed_record = record["seed"]
    seed: nn.Module | None = None
    state: SeedState | None = None
    if seed_record is not None:
        state = SeedState.from_record(seed_record)
        state.slot_id = state.slot_id or slot.slot_id  # version 1 did not store it
        if seed_record["has_module"]:
            seed = BlueprintRegistry.create(
                state.topology, state.blueprint_id, slot.channels, **state.blueprint_kwargs
            ).to(slot.device)
            seed.train(slot.training)
    schedule = record["schedule"]
    slot.seed = seed
    slot.alpha_schedule = (
        None
        if schedule is None
        else AlphaSchedule(
            total_steps=schedule[0], start=schedule[1], end=schedule[2], temperature=schedule[3]
        )
    )
    slot.isolate_gradients = bool(record["isolate_gradients"])
    slot.state = state  # attaching refreshes the forward flags
    slot.set_alpha(record["alpha"])
