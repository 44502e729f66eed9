"""HostProtocol: what a host needs so that seed slots can be grafted into it."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch.nn as nn


@runtime_checkable
class HostProtocol(Protocol):
    """A host exposes named injection points and accepts slots at them.

    Bring your own host by providing these four members (and, optionally, a
    `topology` attribute, "cnn" or "transformer", and `validate_input(x)`).
    `isinstance(obj, HostProtocol)` checks that the members exist, not their
    signatures.
    """

    @property
    def injection_points(self) -> dict[str, int]: ...

    def register_slot(self, name: str, slot: nn.Module) -> None: ...

    def unregister_slot(self, name: str) -> None: ...

    def forward(self, *args: Any, **kwargs: Any) -> Any: ...
