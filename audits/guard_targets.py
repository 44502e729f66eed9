"""The guard group: TransformerHost compiled both ways (plain torch.compile and esper's
compile_with_validation), with both guards of the original package (ValueError and
assert), side by side. It is informational: the run reports what torch does there and
never fails on it.

PYTEST_DONT_REWRITE: the assert guard must reach dynamo as written, also when the audit
runs inside pytest with esper's plugin installed (pytest rewrites the asserts of a
plugin's distribution, and a rewritten assert is a graph break).
"""

from __future__ import annotations

from functools import partial

import torch

from audits.builtin_hosts import GPT, SEQUENCE_DIMS, tokens, transformer_host
from audits.targets import BadInput, CompileFn, Target, torch_compile
from esper.kasmina import TransformerHost, compile_with_validation
from reporting.schema.vocabulary import Task


class AssertGuardTransformerHost(TransformerHost):
    """TransformerHost with the original package's guard: an assert, not a ValueError."""

    def validate_input(self, idx: torch.Tensor) -> None:
        T = idx.shape[1]
        assert T <= self.block_size, (
            f"Cannot forward sequence of length {T}, block size is only {self.block_size}"
        )


def guard_targets() -> list[Target]:
    variants: tuple[tuple[str, type[TransformerHost], type[BaseException]], ...] = (
        ("valueerror", TransformerHost, ValueError),
        ("assert", AssertGuardTransformerHost, AssertionError),
    )
    entry_points: tuple[tuple[str, CompileFn], ...] = (
        ("torch.compile", torch_compile),
        ("compile_with_validation", compile_with_validation),
    )
    return [
        Target(
            name=f"guard/{guard}/{entry}",
            build=partial(transformer_host, GPT, host_cls),
            make_inputs=tokens,
            bad_inputs=(
                BadInput(
                    name="sequence longer than block_size",
                    make_inputs=partial(tokens, seq_len=GPT.block_size + 1),
                    raises=raises,
                ),
            ),
            compile=compile_fn,
            dynamic_dims=SEQUENCE_DIMS,
            modes=(Task.TRAIN, Task.INFER),
            group="guard",
            informational=True,
            description=f"TransformerHost, T > block_size guarded by {raises.__name__}, "
            f"compiled with {entry}",
        )
        for guard, host_cls, raises in variants
        for entry, compile_fn in entry_points
    ]
