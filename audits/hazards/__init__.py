"""Modules that are wrong on purpose, one per compile hazard.

`python -m audits.run --hazards` audits them; each declares the checks that
must flag it, so the hazard suite doubles as a test of the checks themselves.
"""

from __future__ import annotations

from audits.hazards import (
    batch_loop,
    changing_attribute,
    data_dependent_assert,
    data_dependent_branch,
    dict_building,
    disabled_slot,
    item_in_forward,
    mutated_input,
    plain_custom_pass,
    print_in_forward,
    raise_under_fullgraph,
    tensor_branch,
)
from audits.targets import Target

_MODULES = (
    data_dependent_assert,
    item_in_forward,
    mutated_input,
    plain_custom_pass,
    print_in_forward,
    disabled_slot,
    changing_attribute,
    tensor_branch,
    dict_building,
    raise_under_fullgraph,
    batch_loop,
    data_dependent_branch,
)
# Hazards with a clean counterpart: the same job done right, which no check may flag.
_WITH_CLEAN = (batch_loop, data_dependent_branch, plain_custom_pass, mutated_input)


def hazard_targets() -> list[Target]:
    return [m.target() for m in _MODULES]


def clean_counterparts() -> list[Target]:
    return [m.clean_target() for m in _WITH_CLEAN]
