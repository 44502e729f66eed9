"""compile_with_validation: torch.compile with input checks kept in Python.

Under torch.compile(fullgraph=True) a `raise` inside the compiled region does
not reach the caller as the exception eager raises: torch 2.13 reports
`torch._dynamo.exc.Unsupported` ("Observed exception") instead (measured by
`python -m audits.run`, see README). Checking the input before entering the
compiled module gives the user the same ValueError compiled as eager.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn


class ValidatedCompiledModule:
    """Calls `module.validate_input(*args)` eagerly, then the compiled module."""

    def __init__(self, module: nn.Module, **compile_kwargs: Any) -> None:
        validate = getattr(module, "validate_input", None)
        if not callable(validate):
            raise TypeError(
                f"{type(module).__name__} has no validate_input(); compile it with torch.compile"
            )
        self.module = module
        self.compiled: Callable[..., Any] = torch.compile(module, **compile_kwargs)
        self._validate: Callable[..., None] = validate

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._validate(*args, **kwargs)
        return self.compiled(*args, **kwargs)


def compile_with_validation(module: nn.Module, **compile_kwargs: Any) -> ValidatedCompiledModule:
    """torch.compile(module, **compile_kwargs), with bad input raising as in eager."""
    return ValidatedCompiledModule(module, **compile_kwargs)
