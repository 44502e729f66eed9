"""The verdict rules of the recompile, parity and exception checks, each on the side it guards.

Every module here really compiles (cheap backends); what differs under compile comes from
dynamo's own behaviour (a graph break splits frames, `is_compiling()` is True while
tracing), never from a stand-in for torch.compile.
"""

import pytest
import torch
from torch import nn

from audits.audit import audit_target
from audits.checks.common import CheckSettings
from audits.targets import BadInput, ScenarioStep, Target
from reporting.schema.audit import CheckStatus

WIDTH = 4
EAGER = CheckSettings(backend="eager")
AOT = CheckSettings(backend="aot_eager")


def inputs() -> tuple[torch.Tensor]:
    return (torch.rand(3, WIDTH) + 0.5,)


class Scaled(nn.Module):
    """Scale read from a Python int attribute: dynamo guards on it and recompiles on a change."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)
        self.scale = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) * self.scale


class SplitScaled(Scaled):
    """Two frames (a graph break in the middle); only the second one reads `scale`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        torch._dynamo.graph_break()
        return y * self.scale


def _scale_to_two(module: nn.Module) -> None:
    module.scale = 2


def _replay(build, *, budget: int, max_compiles: int | None = None):
    step = ScenarioStep(name="scale 2", action=_scale_to_two, max_compiles=max_compiles)
    target = Target(
        name=build.__name__.lower(),
        build=build,
        make_inputs=inputs,
        scenario=(step,),
        recompile_budget=budget,
    )
    return audit_target(target, EAGER).recompiles


@pytest.mark.parametrize(("budget", "status"), [(1, CheckStatus.FAILED), (2, CheckStatus.PASSED)])
def test_the_per_frame_budget_alone_decides_the_recompile_verdict(budget, status):
    """One frame compiled twice, no step budget, no limit: fails at budget 1, passes at 2."""
    result = _replay(Scaled, budget=budget)
    assert (result.total_compiles, result.max_frame_compiles) == (2, 2)
    assert not result.limit_hit
    assert all(step.max_compiles is None and step.error is None for step in result.steps)
    assert result.status is status


def test_the_budget_counts_compiles_per_frame_not_in_total():
    """Two frames, one recompiled: 3 compiles in all but at most 2 per frame fit a budget of 2."""
    result = _replay(SplitScaled, budget=2)
    assert [s.compiles for s in result.steps] == [2, 1]
    assert (result.total_compiles, result.max_frame_compiles) == (3, 2)
    assert result.status is CheckStatus.PASSED
    assert _replay(SplitScaled, budget=1).status is CheckStatus.FAILED


@pytest.mark.parametrize(
    ("max_compiles", "status"), [(0, CheckStatus.FAILED), (1, CheckStatus.PASSED)]
)
def test_a_step_budget_alone_decides_the_recompile_verdict(max_compiles, status):
    """Within a generous frame budget, a step that compiles once fails at 0 allowed, passes at 1."""
    result = _replay(Scaled, budget=3, max_compiles=max_compiles)
    assert result.steps[-1].compiles == 1
    assert result.max_frame_compiles == 2 <= result.budget
    assert result.status is status


class GradOnlyWhenCompiled(nn.Module):
    """Adds 0 * extra while dynamo traces: same output; `extra` gets a gradient only compiled."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)
        self.extra = nn.Parameter(torch.ones(WIDTH))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        if torch.compiler.is_compiling():
            y = y + 0.0 * self.extra
        return y


def test_a_gradient_present_on_one_side_only_fails_parity():
    """Equal outputs and equal shared gradients, but a gradient only compiled has: parity fails."""
    target = Target(name="grad-only-compiled", build=GradOnlyWhenCompiled, make_inputs=inputs)
    parity = audit_target(target, AOT).parity
    for mode in parity.modes:
        assert mode.output.passed and mode.output.max_abs == 0.0
        assert mode.worst_grad is not None and mode.worst_grad.passed
        assert mode.grad_presence_mismatch == ("grad:extra",)
        assert not mode.passed
    assert parity.status is CheckStatus.FAILED


class SaysWhereItRaised(nn.Module):
    """The message is built before a graph break and raised after it: inside the graph it says so.

    Dynamo evaluates `is_compiling()` while tracing the first frame, so the compiled call raises
    the same ValueError as eager with another message.
    """

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        message = "compiled" if torch.compiler.is_compiling() else "eager"
        torch._dynamo.graph_break()
        if x.shape[-1] != WIDTH:
            raise ValueError(message)
        return self.proj(x)


def test_same_exception_type_with_another_message_fails_the_exception_check():
    """Compiled raises ValueError('compiled') where eager raises ValueError('eager'): a failure."""
    wide = BadInput(
        name="too wide", make_inputs=lambda: (torch.rand(3, WIDTH + 1),), raises=ValueError
    )
    target = Target(
        name="says-where", build=SaysWhereItRaised, make_inputs=inputs, bad_inputs=(wide,)
    )
    exceptions = audit_target(target, EAGER).exceptions
    (case,) = exceptions.cases
    assert (case.eager_type, case.eager_message) == ("ValueError", "eager")
    assert (case.compiled_type, case.compiled_message) == ("ValueError", "compiled")
    assert case.type_matches and not case.message_matches
    assert exceptions.status is CheckStatus.FAILED
