"""What the audit reads from dynamo that differs between torch releases.

The checks are written against torch 2.13. Older releases (the tox matrix goes
back to 2.5) name the same things differently; each difference is bridged here,
once, so that a check never tests the torch version itself:

- compile-start callbacks take a `CallbackArgs` (2.9+) or nothing (2.5), in
  which case the compile id is read from the current `CompileContext`;
- the per-frame limit is `recompile_limit` (2.9+) or `cache_size_limit` (2.5);
- reaching it is counted under a message that changed from
  "cache_size_limit reached" (2.5) to "recompile_limit reached" and
  "Dynamo cache limit exceeded" (2.9) and "Dynamo recompile limit exceeded" (2.13);
- `FailOnRecompileLimitHit` (raised under fullgraph=True) only exists from 2.6
  on; 2.5 falls back to eager even under fullgraph=True.

Anything missing is reported as absent (None, an empty tuple), never faked.
"""

from __future__ import annotations

import re
from typing import Any

# Old name -> new name of the dynamo config entries targets may override.
_RENAMED_CONFIG = {
    "cache_size_limit": "recompile_limit",
    "accumulated_cache_size_limit": "accumulated_recompile_limit",
}
_LIMIT_HIT = re.compile(
    r"(Dynamo (recompile|cache) limit exceeded"
    r"|(accumulated_)?(recompile|cache_size)_limit reached)"
)


def compile_id_of(args: Any = None) -> str | None:
    """The "frame/compile" id of the dynamo compilation a start callback reports.

    None when the callback is not for a dynamo frame (2.9+ also reports the
    compilation of backward graphs through the same callbacks).
    """
    if args is not None:
        if getattr(args.callback_trigger, "name", "") != "DYNAMO":
            return None
        return str(args.compile_id)
    # torch 2.5 calls start callbacks without arguments, inside the frame's CompileContext.
    from torch._guards import CompileContext

    compile_id = CompileContext.current_compile_id()
    return None if compile_id is None else str(compile_id)


def dynamo_config_name(name: str) -> str:
    """The installed torch's name for a dynamo config entry, old or new spelling accepted."""
    from torch._dynamo import config

    if hasattr(config, name):
        return name
    for old, new in _RENAMED_CONFIG.items():
        if name == new and hasattr(config, old):
            return old
        if name == old and hasattr(config, new):
            return new
    return name  # unknown everywhere: config.patch names it in its own error


def recompile_limit() -> int:
    """The per-frame compile limit in force (`recompile_limit`, formerly `cache_size_limit`)."""
    from torch._dynamo import config

    return int(getattr(config, dynamo_config_name("recompile_limit")))


def is_recompile_limit_message(message: str) -> bool:
    """Whether a dynamo `Unsupported` message says a frame reached its compile limit."""
    return _LIMIT_HIT.match(message) is not None


def recompile_limit_errors() -> tuple[type[BaseException], ...]:
    """The exception types fullgraph=True raises at the limit; empty where torch has none."""
    from torch._dynamo import exc

    found = getattr(exc, "FailOnRecompileLimitHit", None)
    return (found,) if isinstance(found, type) else ()
