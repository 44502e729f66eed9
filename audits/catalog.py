"""Built-in and hazard targets looked up by name, for a child that rebuilds its own target.

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


def catalog_target(catalog: str, name: str) -> Target:
    """The target called `name` in the built-in, hazard or distributed catalog; KeyError
    when none is."""
    if catalog == BUILTIN:
        from audits.builtin_targets import builtin_targets

        candidates = builtin_targets()
    elif catalog == HAZARD:
        from audits.hazards import hazard_targets

        candidates = hazard_targets()
    elif catalog == DISTRIBUTED:
        from audits.builtin_targets import distributed_targets

        candidates = distributed_targets()
    else:
        raise ValueError(f"catalog {catalog!r}: valid catalogs are {', '.join(CATALOGS)}")
    for target in candidates:
        if target.name == name:
            return replace(target, reload=partial(catalog_target, catalog, name))
    raise KeyError(f"no {catalog} target named {name!r}")
