"""Errors after which a process's CUDA context is unusable, such as a device-side assert.

After a kernel trips a device-side assert (or reads an illegal address), every later
CUDA call in the process fails with the same error: a check that ran after it would
report the earlier check's fault as its own. The audit stops the target's process at
the first such error, records which check and which input raised it, and runs the
checks still to do in a fresh process (audits.runner).

CUDA reports these errors asynchronously, at some later call; the checks that feed a
module inputs meant to fail synchronize right after each call, so that the error is
charged to the call that caused it.
"""

from __future__ import annotations

import torch

from audits.graph_breaks import first_line
from reporting.schema.audit import CheckName, DeviceFault, ExceptionsResult

# Phrases of the CUDA runtime's sticky errors, as torch quotes them ("CUDA error: ...").
# torch 2.9 and later raise torch.AcceleratorError for them, older releases RuntimeError.
_STICKY_PHRASES = (
    "device-side assert triggered",
    "an illegal memory access was encountered",
    "unspecified launch failure",
    "misaligned address",
    "an illegal instruction was encountered",
)


def is_device_fault(exc: BaseException | None) -> bool:
    """Whether `exc` is a CUDA error after which this process can run nothing on the device."""
    return exc is not None and any(phrase in str(exc) for phrase in _STICKY_PHRASES)


def synchronize(device: str) -> None:
    """Wait for queued kernels, so that an asynchronous CUDA error is raised here."""
    if device == "cuda":
        torch.cuda.synchronize()


class DeviceFaultError(Exception):
    """Raised by a check that saw a device fault; carries what the check had measured."""

    def __init__(self, fault: DeviceFault, *, partial: ExceptionsResult | None = None) -> None:
        super().__init__(fault.message)
        self.fault = fault
        self.partial = partial  # the exceptions check's cases up to and with the fault


def fault_from(exc: BaseException, check: CheckName, input_name: str) -> DeviceFault:
    return DeviceFault(
        check=check,
        input=input_name,
        error_type=type(exc).__name__,
        message=first_line(exc) or type(exc).__name__,
    )
