"""Module-level target factories: a forkserver or spawned child imports them by name."""

from __future__ import annotations

import os
import signal
import time

import torch

from audits.targets import Target

# Stands in for the CUDA state a parent process may hold (a torch fork handler, a
# context): a forked child inherits it, a forkserver's child does not.
PARENT_STATE = {"cuda_touched": False}


def clean() -> Target:
    return Target(
        name="clean", build=lambda: torch.nn.Linear(3, 3), make_inputs=lambda: (torch.randn(2, 3),)
    )


def needs_untouched_parent() -> Target:
    if PARENT_STATE["cuda_touched"]:
        raise RuntimeError("Cannot re-initialize CUDA in forked subprocess")
    return clean()


def segfault() -> Target:
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")


def hang() -> Target:
    time.sleep(120)
    raise AssertionError("unreachable")
