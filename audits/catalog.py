"""Built-in, hazard and distributed targets looked up by name, for a child that rebuilds
its own target.

A child started by a forkserver or spawn receives its job by pickle, and a Target
(full of lambdas) does not pickle; a partial of `catalog_target` does.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from audits.targets import Target

BUILTIN = "builtin"
HAZARD = "hazard"
DISTRIBUTED = "distributed"  # the built-in distributed targets (--distributed)
CATALOGS = (BUILTIN, HAZARD, DISTRIBUTED)


def catalog_targets(catalog: str) -> list[Target]:
    """Every target of the built-in, hazard or distributed catalog, in the summary's order."""
    if catalog == HAZARD:
        from audits.hazards import hazard_targets

        return hazard_targets()
    from audits.builtin_targets import builtin_targets
    from audits.distributed.targets import distributed_targets

    if catalog == BUILTIN:
        return builtin_targets()
    if catalog == DISTRIBUTED:
        return distributed_targets()
    raise ValueError(f"catalog {catalog!r}: valid catalogs are {', '.join(CATALOGS)}")


def catalog_target(catalog: str, name: str) -> Target:
    """The target called `name` in the catalog; KeyError when none is."""
    for target in catalog_targets(catalog):
        if target.name == name:
            return replace(target, reload=partial(catalog_target, catalog, name))
    raise KeyError(f"no {catalog} target named {name!r}")
