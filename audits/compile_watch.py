"""Audited torch.compile calls: what compiled, broke and recompiled while a watch was on.

A `CompileWatch` turns every torch.compile call made while it is on into an
audited one. The compiled function still runs through the real torch.compile;
the watch only

- makes a graph break an error at the break, with torch's own switch where it
  exists (`torch._dynamo.error_on_graph_break`, 2.9+), else by compiling with
  fullgraph=True (torch.compile is wrapped for that, and to note where it was called);
- makes a recompile an error at the call that recompiles, when one compile per frame
  is allowed (`torch._dynamo.config.error_on_recompile`, which names the failed guard;
  `set_stance("fail_on_recompile")` cannot serve here, as it refuses first compiles too);
- counts compilations per frame (dynamo's compile-start callback) and records the
  breaks and failed guards dynamo takes, for budgets above one and for compiles the
  switches do not reach.

At the end `verdict` gives what it saw as the audit's typed result, which the
console's renderer turns into the finding. `torch._dynamo.reset()` clears
dynamo's records, so the watch reads them just before each reset.
"""

from __future__ import annotations

import contextlib
import functools
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from audits.checks.breaks import break_reason_mark, breaks_since
from audits.checks.common import (
    describe_guard,
    guard_failure_marks,
    guard_failures_since,
    max_frame_compiles,
    recompile_limit_hits,
)
from audits.graph_breaks import (
    break_from_exception,
    exception_in_chain,
    first_line,
    innermost_user_frame,
)
from audits.torch_compat import compile_id_of, recompile_limit, recompile_limit_errors
from reporting.schema.audit import (
    CheckStatus,
    FullgraphResult,
    GraphBreakInfo,
    RecompilesResult,
    SourceLocation,
    StepCompiles,
    TargetResult,
    TargetStatus,
)

# The watches now on, innermost last; `paused_watch` suspends the innermost.
_ACTIVE: list[CompileWatch] = []


def has_error_on_graph_break() -> bool:
    """Whether this torch can make graph breaks errors without fullgraph=True (2.9+)."""
    import torch._dynamo

    return hasattr(torch._dynamo, "error_on_graph_break")


def check_max_compiles(max_compiles: object) -> int:
    if isinstance(max_compiles, bool) or not isinstance(max_compiles, int) or max_compiles < 1:
        raise ValueError(
            f"max_compiles must be an int >= 1 (the first compile counts), got {max_compiles!r}"
        )
    return max_compiles


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileSite:
    """A torch.compile call made while the watch was on."""

    what: str  # the compiled module's class or the function's name
    location: SourceLocation | None  # the user's line that called torch.compile

    def __str__(self) -> str:
        where = f"{self.location.file}:{self.location.line}" if self.location else "?"
        return f"torch.compile({self.what}) at {where}"


class CompileWatch:
    """A context manager: torch.compile calls inside it are audited (see the module doc)."""

    def __init__(self, *, name: str, fullgraph: bool = True, max_compiles: int = 1) -> None:
        if not isinstance(fullgraph, bool):
            raise TypeError(f"fullgraph must be True or False, got {fullgraph!r}")
        self.name = name
        self.fullgraph = fullgraph
        self.max_compiles = check_max_compiles(max_compiles)
        self.sites: list[CompileSite] = []
        self.compile_ids: list[str] = []  # "epoch:frame/compile"; an epoch ends at each reset
        self.break_count = 0
        self.breaks: list[GraphBreakInfo] = []
        self.guards: list[str] = []
        self.limit_hits = 0
        self.switches: tuple[str, ...] = ()  # torch's switches the watch turned on
        self._epoch = 0
        self._stack: contextlib.ExitStack | None = None
        self._break_mark = 0
        self._guard_marks: dict[Any, int] = {}
        self._limit_mark = 0

    # Dynamo calls this at the start of every frame compilation.
    def __call__(self, args: Any = None) -> None:
        compile_id = compile_id_of(args)
        if compile_id is not None:
            self.compile_ids.append(f"{self._epoch}:{compile_id}")

    def __enter__(self) -> CompileWatch:
        _ACTIVE.append(self)
        self._start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._stop()
        finally:
            _ACTIVE.remove(self)

    @property
    def on(self) -> bool:
        return self._stack is not None

    def _start(self) -> None:
        import torch._dynamo

        self._epoch += 1
        stack = contextlib.ExitStack()
        real_compile = torch.compile
        torch.compile = self._audited_compile(real_compile)  # type: ignore[assignment]
        stack.callback(setattr, torch, "compile", real_compile)
        real_reset = torch._dynamo.reset
        torch._dynamo.reset = self._audited_reset(real_reset)
        stack.callback(setattr, torch._dynamo, "reset", real_reset)
        switches = []
        if self.fullgraph and has_error_on_graph_break():
            stack.enter_context(torch._dynamo.error_on_graph_break(True))
            switches.append("torch._dynamo.error_on_graph_break(True)")
        elif self.fullgraph:
            switches.append("torch.compile(fullgraph=True)")
        if self.max_compiles == 1 and hasattr(torch._dynamo.config, "error_on_recompile"):
            stack.enter_context(torch._dynamo.config.patch(error_on_recompile=True))
            switches.append("torch._dynamo.config.error_on_recompile=True")
        self.switches = tuple(switches)
        torch._dynamo.callback_handler.register_start_callback(self)
        stack.callback(self._unregister)
        self._mark()
        self._stack = stack

    def _stop(self) -> None:
        if self._stack is None:
            return
        stack, self._stack = self._stack, None
        try:
            self._harvest()
        finally:
            stack.close()

    def _unregister(self) -> None:
        import torch._dynamo

        handler = torch._dynamo.callback_handler
        if self in handler.start_callbacks:
            handler.remove_start_callback(self)

    def _mark(self) -> None:
        self._break_mark = break_reason_mark()
        self._guard_marks = guard_failure_marks()
        self._limit_mark = recompile_limit_hits()

    def _harvest(self) -> None:
        """Read dynamo's records since the last mark, then mark again."""
        count, distinct = breaks_since(self._break_mark)
        self.break_count += count
        self.breaks.extend(b for b in distinct if b not in self.breaks)
        self.guards.extend(guard_failures_since(self._guard_marks))
        self.limit_hits += max(0, recompile_limit_hits() - self._limit_mark)
        self._mark()

    def _audited_compile(self, real: Callable[..., Any]) -> Callable[..., Any]:
        force_fullgraph = self.fullgraph and not has_error_on_graph_break()

        @functools.wraps(real)
        def audited_compile(*args: Any, **kwargs: Any) -> Any:
            model = args[0] if args else kwargs.get("model")
            if model is not None:
                what = (
                    type(model).__name__
                    if isinstance(model, torch.nn.Module)
                    else str(getattr(model, "__qualname__", type(model).__name__))
                )
                site = innermost_user_frame(traceback.extract_stack()[:-1])
                self.sites.append(CompileSite(what=what, location=site))
            if force_fullgraph:
                kwargs["fullgraph"] = True
            return real(*args, **kwargs)

        return audited_compile

    def _audited_reset(self, real: Callable[[], None]) -> Callable[[], None]:
        @functools.wraps(real)
        def audited_reset() -> None:
            self._harvest()
            real()
            # A reset drops every callback and restarts frame numbers: a new epoch.
            self._epoch += 1
            import torch._dynamo

            torch._dynamo.callback_handler.register_start_callback(self)
            self._mark()

        return audited_reset

    def verdict(self, error: BaseException | None = None) -> TargetResult:
        """What the watch saw, as the audit's result; `error` is what the watched code raised."""
        if self.on:
            self._harvest()
        limit_error = exception_in_chain(error, recompile_limit_errors())
        from torch._dynamo.exc import RecompileError

        refused = exception_in_chain(error, (RecompileError,))
        raised_break = (
            None if limit_error is not None or error is None else break_from_exception(error)
        )
        fullgraph: FullgraphResult | None = None
        if self.fullgraph:
            info = raised_break or (self.breaks[0] if self.breaks else None)
            if info is None:
                fullgraph = FullgraphResult(status=CheckStatus.PASSED)
            else:
                raised = raised_break is not None and error is not None
                fullgraph = FullgraphResult(
                    status=CheckStatus.FAILED,
                    error_type=type(error).__name__ if raised and error else "graph break",
                    error_message=first_line(error) if raised and error else info.gb_type,
                    graph_break=info,
                )
        # A recompile refused by error_on_recompile did not start: it still counts.
        max_frame = max_frame_compiles(self.compile_ids) + (1 if refused else 0)
        limit_hit = self.limit_hits > 0 or limit_error is not None
        stopped = refused or limit_error
        step = StepCompiles(
            step=self.name,
            calls=0,  # the watch counts compilations, not calls
            compiles=len(self.compile_ids),
            guard_failures=tuple(dict.fromkeys(describe_guard(g) for g in self.guards)),
            error=f"{type(stopped).__name__}: {first_line(stopped)}" if stopped else None,
        )
        ok = max_frame <= self.max_compiles and not limit_hit
        recompiles = RecompilesResult(
            status=CheckStatus.PASSED if ok else CheckStatus.FAILED,
            fullgraph=self.fullgraph,
            total_compiles=len(self.compile_ids),
            max_frame_compiles=max_frame,
            budget=self.max_compiles,
            recompile_limit=recompile_limit(),
            limit_hit=limit_hit,
            silent_fallback=limit_hit and limit_error is None,
            steps=(step,),
        )
        failed = not ok or (fullgraph is not None and fullgraph.status is CheckStatus.FAILED)
        return TargetResult(
            name=self.name,
            group="user",
            status=TargetStatus.FAILED if failed else TargetStatus.PASSED,
            fullgraph=fullgraph,
            recompiles=recompiles,
        )


@contextlib.contextmanager
def paused_watch() -> Iterator[None]:
    """The innermost watch off (its records kept) while the audit compiles on its own."""
    watch = _ACTIVE[-1] if _ACTIVE else None
    if watch is None or not watch.on:
        yield
        return
    watch._stop()
    try:
        yield
    finally:
        watch._start()
