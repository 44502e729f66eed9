"""What the installed torch does where releases differ, for tests that assert per release.

Each fact is read from torch itself (a config entry, a shipped file, a two-line
compile), not from its version number, and its comment names what differs on
the two releases the suite was measured on (2.6 and 2.13).
"""

from __future__ import annotations

import functools

import pytest
import torch
import torch._dynamo

from audits.graph_breaks import _gb_codes
from foundation.processes import torch_has_gpu_support

# A forked child of a process that has run a backward fails its own first backward on a
# CUDA build of torch, GPU or not ("Unable to handle autograd's threading in combination
# with fork-based multiprocessing", 2.14.1+cu130), and the CLI refuses --start-method
# fork there: tests that fork on purpose skip on such a build.
FORK_ON_THIS_BUILD = pytest.mark.skipif(
    torch_has_gpu_support(), reason="a CUDA build of torch: forked children cannot use autograd"
)

# An int attribute of an nn.Module that changes between calls: 2.13 keeps it a constant
# (allow_unspec_int_on_nn_module=False) and recompiles for every value; 2.6 has no such
# entry and, after one recompile, makes the int dynamic (automatic dynamic shapes).
# Reproduction: a module whose forward does `self.calls += 1; return x * self.calls`,
# compiled with backend="eager" and called 4 times, compiles 4 times on 2.13 and 2 on 2.6.
MODULE_INTS_SPECIALISED = not getattr(torch._dynamo.config, "allow_unspec_int_on_nn_module", True)

# The dynamo config under which such an int stays a constant on every release.
SPECIALISE_MODULE_INTS: tuple[tuple[str, object], ...] = (
    () if MODULE_INTS_SPECIALISED else (("automatic_dynamic_shapes", False),)
)

# Graph breaks in the registry's words ("Failed to trace builtin operator", a GB code,
# explanation, hints, doc link) where torch ships graph_break_registry.json (2.13); 2.6
# words each break its own way ("builtin: print [...] False") with none of those fields.
GB_REGISTRY = bool(_gb_codes())


def compiles_of_a_bumped_int(calls: int) -> int:
    """Compilations of a forward reading an int attribute bumped on each of `calls` calls."""
    return calls if MODULE_INTS_SPECIALISED else min(calls, 2)


@functools.cache
def item_breaks_fullgraph() -> bool:
    """Whether `.item()` fails a fullgraph=True compile.

    2.13 captures the scalar under fullgraph=True (capture_scalar_outputs is implied
    there); 2.6 raises Unsupported("Tensor.item"). Both break without fullgraph.
    """

    def scaled(x: torch.Tensor) -> torch.Tensor:
        return x / (1.0 + x.abs().mean().item())

    try:
        torch.compile(scaled, backend="eager", fullgraph=True)(torch.ones(2))
    except torch._dynamo.exc.Unsupported:
        return True
    finally:
        torch._dynamo.reset()
    return False
