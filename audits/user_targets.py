"""`--target package.module:factory`: the user's own modules.

The factory returns an audits `Target`, or the simple pair
`(module, example_inputs)` so that any nn.Module can be audited without
importing audits. The spec is checked in the parent (import, attribute,
callable) so a typo is a usage error; the factory itself is only called in
the target's subprocess, where building a module is allowed to crash.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from audits.targets import Target, target_from_pair

_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class TargetSpecError(ValueError):
    """A `--target` value that cannot be used; the message says what is valid."""


def resolve_factory(spec: str) -> Callable[[], Any]:
    """Import `package.module:factory` and return the factory, or raise TargetSpecError."""
    if not _SPEC.match(spec):
        raise TargetSpecError(
            f"--target {spec!r}: expected package.module:factory, e.g. mypkg.models:make_target"
        )
    module_name, attr = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure is the user's to fix
        raise TargetSpecError(
            f"--target {spec!r}: cannot import {module_name!r} ({type(exc).__name__}: {exc})"
        ) from exc
    factory = getattr(module, attr, None)
    if factory is None:
        callables = sorted(
            n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
        )
        raise TargetSpecError(
            f"--target {spec!r}: {module_name} has no {attr!r}; callables there: {callables}"
        )
    if not callable(factory):
        raise TargetSpecError(
            f"--target {spec!r}: {attr} is a {type(factory).__name__}, not callable"
        )
    return factory  # type: ignore[no-any-return]


def build_user_target(spec: str) -> Target:
    """Call the factory named by `spec` and turn what it returns into a Target named `spec`."""
    made = resolve_factory(spec)()
    reload = partial(build_user_target, spec)
    if isinstance(made, Target):
        description = made.description or made.name
        return replace(made, name=spec, group="user", description=description, reload=reload)
    if isinstance(made, tuple) and len(made) == 2:
        return replace(target_from_pair(spec, made), reload=reload)
    raise TypeError(
        f"{spec} returned {type(made).__name__}; a target factory returns an audits Target "
        f"or a (module, example_inputs) pair"
    )
