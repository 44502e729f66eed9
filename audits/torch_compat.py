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
- under fullgraph=True the limit raises `FailOnRecompileLimitHit` (2.13) or
  `RecompileLimitExceeded` ("cache_size_limit reached", 2.6); 2.5 falls back to
  eager even under fullgraph=True;
- a failed guard names a local as `self.calls` (2.13, torch strips the frame's
  local scope) or `L['self'].calls` (2.6);
- a user exception raised in a function dynamo inlined is reported at the raise
  (2.13) or, on 2.6, at the call into that function: the raise site is only on
  the `ObservedException` the `Unsupported` was raised from;
- `draft_export` is `torch.export.draft_export`, whose program carries the
  report (2.13), or only the private `torch.export._draft_export.draft_export`,
  which returns (program, report) and keeps a failure's user frames under
  "stack" rather than "user_stack" (2.6);
- a `ConstraintViolationError` for a dim marked dynamic names the user line that
  specialised it (2.13); on 2.6 only the symbolic-shapes log line of the guard
  that made it a constant does.

Anything missing is reported as absent (None, an empty tuple), never faked.
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
from collections.abc import Callable, Iterator
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

    names = ("FailOnRecompileLimitHit", "RecompileLimitExceeded")
    found = (getattr(exc, name, None) for name in names)
    return tuple(t for t in found if isinstance(t, type) and issubclass(t, BaseException))


_LOCAL_SCOPE = re.compile(r"L\[\s*['\"](.*?)['\"]\s*\]")


def readable_guard(reason: str) -> str:
    """A failed guard as 2.13 words it, `L['self'].calls` made `self.calls` here where torch
    has no `guards.strip_local_scope` to do it."""
    from torch._dynamo import guards

    return reason if hasattr(guards, "strip_local_scope") else _LOCAL_SCOPE.sub(r"\1", reason)


def break_frames(unsupported: BaseException) -> list[traceback.FrameSummary]:
    """The user frames dynamo recorded for a graph break, innermost last; on 2.6 those of
    the `ObservedException` behind it, which extend the break's own down to the raise."""
    from torch._dynamo.exc import ObservedException

    frames = list(getattr(unsupported, "real_stack", None) or [])
    seen = {id(unsupported)}
    current = unsupported.__cause__ or unsupported.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        deeper = list(getattr(current, "real_stack", None) or [])
        if isinstance(current, ObservedException) and _extends(deeper, frames):
            frames = deeper
        current = current.__cause__ or current.__context__
    return frames


def _extends(longer: list[traceback.FrameSummary], shorter: list[traceback.FrameSummary]) -> bool:
    def key(f: traceback.FrameSummary) -> tuple[str, int | None, str]:
        return (f.filename, f.lineno, f.name)

    return len(longer) > len(shorter) and [key(f) for f in longer[: len(shorter)]] == [
        key(f) for f in shorter
    ]


DraftExport = Callable[[Any, tuple[Any, ...]], tuple[Any, Any]]


def draft_export() -> DraftExport | None:
    """draft_export as a function returning (program, report); None where torch has none."""
    import torch.export

    public = getattr(torch.export, "draft_export", None)
    if public is None:
        try:
            from torch.export._draft_export import draft_export as private
        except ImportError:
            return None
        public = private

    def run(module: Any, args: tuple[Any, ...]) -> tuple[Any, Any]:
        result = public(module, args)
        if isinstance(result, tuple):  # 2.6: (program, report)
            program, report = result
            return program, report
        return result, getattr(result, "_report", None)

    return run


def draft_user_stack(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The user frames of a draft_export failure ("user_stack"; "stack" on 2.6)."""
    return list(data.get("user_stack") or data.get("stack") or [])


_SHAPES_LOGGER = "torch.fx.experimental.symbolic_shapes"


@contextlib.contextmanager
def shape_guards_logged() -> Iterator[list[str]]:
    """The messages torch's symbolic-shapes logger writes at INFO while the block runs.

    Among them: "eval Eq(s0, 4) [guard added] <code>  # file.py:12 in forward (...)",
    the guard that made a symbol a constant, with the user line that added it. The
    logger is raised to INFO only for the block, and what it would not have printed
    before is kept from torch's handlers.
    """
    logger = logging.getLogger(_SHAPES_LOGGER)
    messages: list[str] = []
    level, propagate = logger.level, logger.propagate
    shown = logger.getEffectiveLevel()
    quiet = shown > logging.INFO

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with contextlib.suppress(Exception):
                messages.append(record.getMessage())
            if quiet and propagate and record.levelno >= shown and logger.parent is not None:
                logger.parent.handle(record)  # what torch's handlers would have shown anyway

    handler = _Keep(level=logging.INFO)
    logger.addHandler(handler)
    if quiet:
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def mega_cache_available() -> bool:
    """torch.compiler's save_cache_artifacts / load_cache_artifacts pair (torch 2.7+)."""
    import torch

    compiler = torch.compiler
    return hasattr(compiler, "save_cache_artifacts") and hasattr(compiler, "load_cache_artifacts")


def missing_apis() -> tuple[str, ...]:
    """The optional APIs this torch lacks, by the names the checks' notes use.

    draft_export (the export check's explanation of a failure) came in 2.6 under a private
    name and 2.7 in public; the mega-cache (the cache check's third process) in 2.7;
    set_stance (assert_no_recompiles in audits.testing) in 2.6.
    """
    import torch

    compiler = torch.compiler
    present = {
        "torch.export.draft_export": draft_export() is not None,
        "torch.compiler.save_cache_artifacts": mega_cache_available(),
        "torch.compiler.set_stance": hasattr(compiler, "set_stance"),
    }
    return tuple(api for api, found in present.items() if not found)
