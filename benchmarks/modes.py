"""How a step runs: eager or one of torch.compile's modes, in fp32 or under bf16 autocast.

The choice is made once, when a runner is built, never per call. reduce-overhead captures
CUDA graphs, whose outputs live in memory the next replay overwrites: each step therefore
begins with torch.compiler.cudagraph_mark_step_begin(), and any output the caller keeps is
cloned out of the graph's pool.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.utils._pytree import tree_map

from reporting.schema.vocabulary import CompileMode, Precision


def autocast_context(
    precision: Precision, device: torch.device
) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on the device, or nothing for fp32."""
    if precision is Precision.BF16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@functools.cache
def _compile_accepts_isolate_recompiles() -> bool:
    return "isolate_recompiles" in inspect.signature(torch.compile).parameters


def compile_module(
    module: torch.nn.Module,
    mode: CompileMode,
    *,
    backend: str = "inductor",
    fullgraph: bool = False,
    inductor_options: Mapping[str, Any] | None = None,
) -> torch.nn.Module:
    """The module itself for eager; otherwise torch.compile(module) in ``mode``.

    ``inductor_options`` (freezing, say) go to torch.compile's ``options``, which torch
    applies as a config patch around this module's compilations only, so the process-wide
    inductor config is never changed. torch refuses ``mode`` and ``options`` together, so
    the mode's own options are merged underneath.

    Several compiled copies of the same class share dynamo's per-code-object cache, so
    one copy's guards are checked on another's calls and all of them count against one
    recompile limit. Where torch offers isolate_recompiles, each copy gets its own entries.
    """
    if not mode.compiled:
        return module
    kwargs: dict[str, Any] = {"backend": backend, "fullgraph": fullgraph}
    if backend != "inductor" and (mode is not CompileMode.DEFAULT or inductor_options):
        raise ValueError(
            f"mode {mode.value!r} with options {dict(inductor_options or {})} needs the "
            f"inductor backend, got backend={backend!r}"
        )
    if backend == "inductor" and inductor_options:
        from torch._inductor import list_mode_options

        kwargs["options"] = {**list_mode_options(mode.value), **inductor_options}
    elif backend == "inductor":
        kwargs["mode"] = mode.value
    if _compile_accepts_isolate_recompiles():
        kwargs["isolate_recompiles"] = True
    return torch.compile(module, **kwargs)  # type: ignore[return-value]


def make_runner(
    step: Callable[[], Any], mode: CompileMode, *, keep_output: bool
) -> Callable[[], Any]:
    """Wrap one step for ``mode``: CUDA-graph bookkeeping for reduce-overhead, else the step.

    ``keep_output`` says the caller holds on to what the step returns (a logged loss, say);
    under CUDA graphs that output must be cloned before the next replay overwrites it.
    """
    if mode is not CompileMode.REDUCE_OVERHEAD:
        return step

    def cudagraph_step() -> Any:
        torch.compiler.cudagraph_mark_step_begin()
        output = step()
        if not keep_output:
            return None
        return tree_map(lambda x: x.clone() if isinstance(x, torch.Tensor) else x, output)

    return cudagraph_step
