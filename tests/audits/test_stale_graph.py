"""The recompile replay compares compiled with eager after each state change."""

import torch
from torch import nn

from audits.audit import audit_target
from audits.checks.common import CheckSettings
from audits.targets import ScenarioStep, Target
from reporting.schema.audit import CheckStatus

AOT_EAGER = CheckSettings(backend="aot_eager")
# An int: torch 2.6's dynamo cannot compile a float returned by an
# assume_constant_result function (InternalTorchDynamoError: 'OutputGraph' object
# has no attribute 'distributed_state'); an int compiles on every release.
_STATE = {"scale": 1}


@torch._dynamo.assume_constant_result
def _unguarded_scale() -> int:
    # dynamo bakes the returned value into the graph without a guard on it
    return _STATE["scale"]


class UnguardedScale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) * _unguarded_scale()


class GuardedScale(UnguardedScale):
    def __init__(self) -> None:
        super().__init__()
        self.scale = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) * self.scale


def _target(build, action) -> Target:
    _STATE["scale"] = 1
    steps = (ScenarioStep(name="scale 3", action=action),)
    return Target(
        name=build.__name__,
        build=build,
        make_inputs=lambda: (torch.rand(2, 4),),
        scenario=steps,
        recompile_budget=2,
    )


def test_a_graph_reused_after_a_state_change_is_flagged():
    """A state change no guard sees: no recompile, but compiled != eager, so recompiles fails."""
    result = audit_target(
        _target(UnguardedScale, lambda m: _STATE.update(scale=3)), AOT_EAGER
    ).recompiles
    step = result.steps[-1]
    assert step.compiles == 0
    assert step.stale_graph is not None and step.stale_graph.startswith("output: max abs err")
    assert result.status is CheckStatus.FAILED


def test_a_guarded_state_change_recompiles_and_is_not_stale():
    """The same change through a guarded attribute recompiles and matches eager."""
    result = audit_target(
        _target(GuardedScale, lambda m: setattr(m, "scale", 3.0)), AOT_EAGER
    ).recompiles
    assert result.steps[-1].stale_graph is None
    assert result.status is CheckStatus.PASSED
