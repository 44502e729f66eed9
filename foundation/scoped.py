"""Scoped global settings: each context sets one torch-wide knob and restores it on exit.

Benchmarks change process-wide state (thread count, the inductor cache directory, dynamo
limits); leaving any of it changed would leak into the audit or the tests that run next.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

from foundation.devices import usable_cpus


@contextlib.contextmanager
def scoped_num_threads(threads: int | None) -> Iterator[None]:
    """torch.set_num_threads for the block; None: every CPU this process may run on."""
    threads = usable_cpus() if threads is None else threads
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def scoped_env(name: str, value: str) -> Iterator[None]:
    """Set one environment variable for the block, restoring or removing it afterwards."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@contextlib.contextmanager
def scoped_inductor_cache(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Point inductor's on-disk caches (FX graph, AOT autograd, kernels) at ``directory``.

    Inductor reads TORCHINDUCTOR_CACHE_DIR each time it resolves a cache path, so changing
    it between compilations in one process is enough; Triton's cache lives beneath it.
    """
    directory = os.fspath(directory)
    triton = os.path.join(directory, "triton")
    with scoped_env("TORCHINDUCTOR_CACHE_DIR", directory), scoped_env("TRITON_CACHE_DIR", triton):
        yield


def reset_compiler_state() -> None:
    """Forget every compiled frame and inductor's in-memory caches, as a fresh process would.

    The on-disk caches stay: that is what separates a warm-cache compile from a cold one.
    """
    import torch._inductor.utils as inductor_utils

    torch._dynamo.reset()
    clear = getattr(inductor_utils, "clear_caches", None)  # private; absent in some versions
    if clear is not None:
        clear()
