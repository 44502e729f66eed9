"""Each check on tiny modules, with the cheap backends: what it records and when it flags."""

import inspect
import sys

import pytest
import torch
from support.torch_release import (
    GB_REGISTRY,
    SPECIALISE_MODULE_INTS,
    compiles_of_a_bumped_int,
)
from torch import nn

from audits.audit import audit_target
from audits.checks.common import CheckSettings
from audits.targets import BadInput, ScenarioStep, Target
from audits.torch_compat import dynamo_config_name
from reporting.schema.audit import CheckName, CheckStatus, TargetStatus

# ----------------------------------------------------------------- tiny modules


WIDTH = 4


def inputs() -> tuple[torch.Tensor]:
    return (torch.rand(3, WIDTH) + 0.5,)


class Clean(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.proj(x))


class Printing(Clean):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        print("shape", y.shape)  # PRINT_LINE
        return y


class Branching(Clean):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        if y.sum() > 0:  # BRANCH_LINE
            return y
        return -y


class UsesItem(Clean):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        return y * y.mean().item()


class Counting(Clean):
    """A Python int attribute bumped every call: a new constant for dynamo each time."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.proj(x) * self.calls


class Scaled(Clean):
    """Scale read from a Python int attribute that a scenario changes between calls."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) * self.scale


class DriftsWhenCompiled(Clean):
    """Computes something else under torch.compile: what the parity check must catch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        if torch.compiler.is_compiling():
            y = y + 1e-3
        return y


class Validating(Clean):
    def validate_input(self, x: torch.Tensor) -> None:
        if x.shape[-1] != WIDTH:
            raise ValueError(f"expected {WIDTH} features, got {x.shape[-1]}")  # RAISE_LINE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.validate_input(x)
        return self.proj(x)


WIDE_INPUT = BadInput(
    name="too wide", make_inputs=lambda: (torch.rand(3, WIDTH + 1),), raises=ValueError
)


def target(build, **kwargs) -> Target:
    kwargs.setdefault("name", build.__name__.lower())
    return Target(build=build, make_inputs=inputs, **kwargs)


def line_of(module_class: type, marker: str) -> int:
    """Line number of the source line carrying `# marker` in this file."""
    lines, start = inspect.getsourcelines(module_class)
    for offset, text in enumerate(lines):
        if f"# {marker}" in text:
            return start + offset
    raise LookupError(marker)


tiny = sys.modules[__name__]
EAGER = CheckSettings(backend="eager")
AOT = CheckSettings(backend="aot_eager")


def test_clean_module_passes_every_check():
    """A pure-tensor module: one graph, no break, one compile, parity within fp32 tolerance."""
    result = audit_target(tiny.target(tiny.Clean), AOT)
    assert result.status is TargetStatus.PASSED, result.error
    assert result.flagged == ()
    assert result.fullgraph.status is CheckStatus.PASSED
    assert (result.breaks.graph_count, result.breaks.break_count) == (1, 0)
    assert result.recompiles.total_compiles == 1
    assert [m.mode.value for m in result.parity.modes] == ["train", "infer"]
    assert result.parity.worst_abs <= 1e-5
    assert result.parity.modes[0].grads_compared == 2  # weight and bias
    assert result.exceptions.status is CheckStatus.SKIPPED


def test_fullgraph_failure_names_the_user_line_and_torch_rule():
    """print in forward: break type, GB code, doc link, hint, and the file/line of the print."""
    result = audit_target(tiny.target(tiny.Printing), EAGER)
    fullgraph = result.fullgraph
    assert fullgraph.status is CheckStatus.FAILED
    assert fullgraph.error_type == "Unsupported"
    info = fullgraph.graph_break
    if GB_REGISTRY:
        assert info.gb_type == "Failed to trace builtin operator"
        assert info.gb_code is not None and info.gb_code.startswith("GB")
        assert info.doc_url.endswith(".html")
        assert any("print" in hint for hint in info.hints)
    else:  # torch's own one-line wording, with no code, link or hint to read
        assert info.gb_type.startswith("builtin: print [")
        assert (info.gb_code, info.doc_url, info.hints) == (None, None, ())
    assert info.location.file.endswith("test_checks.py")
    assert info.location.line == tiny.line_of(tiny.Printing, "PRINT_LINE")
    assert info.location.code.startswith("print(")
    assert "torch" not in info.location.file.split("/")


def test_breaks_count_graphs_and_locate_each_break():
    """fullgraph=False on a tensor-valued branch: two graphs, one break at the if."""
    result = audit_target(tiny.target(tiny.Branching), EAGER)
    breaks = result.breaks
    assert breaks.status is CheckStatus.FAILED
    assert breaks.graph_count == 2
    assert breaks.break_count == 1
    assert len(breaks.ops_per_graph) == 2
    assert breaks.breaks[0].location.line == tiny.line_of(tiny.Branching, "BRANCH_LINE")


def test_item_breaks_without_fullgraph_even_where_fullgraph_compiles():
    """The breaks check compiles on its own: .item() is flagged there whatever fullgraph says."""
    result = audit_target(tiny.target(tiny.UsesItem), EAGER)
    assert result.breaks.status is CheckStatus.FAILED
    assert "item" in result.breaks.breaks[0].gb_type.lower()


def test_steady_state_compiles_once_and_a_changing_attribute_does_not():
    """Repeated calls: 1 compile for a clean module; a bumped int recompiles (every call
    where torch keeps module ints constant, once where it then makes them dynamic)."""
    clean = audit_target(tiny.target(tiny.Clean, steady_calls=5), EAGER).recompiles
    assert [s.compiles for s in clean.steps] == [1, 0]
    counting = audit_target(tiny.target(tiny.Counting, steady_calls=4), EAGER).recompiles
    assert counting.status is CheckStatus.FAILED
    assert counting.max_frame_compiles == compiles_of_a_bumped_int(4) > counting.budget == 1
    assert any("calls" in g for g in counting.steps[1].guard_failures)


def test_scenario_steps_have_their_own_budgets():
    """A step that changes a guarded attribute compiles once; a step allowed 0 compiles fails."""
    steps = (
        ScenarioStep(name="same", calls=2, max_compiles=0),
        ScenarioStep(name="scale 2", action=lambda m: setattr(m, "scale", 2), max_compiles=0),
    )
    result = audit_target(
        tiny.target(tiny.Scaled, scenario=steps, recompile_budget=3), EAGER
    ).recompiles
    assert [(s.step, s.compiles) for s in result.steps] == [
        ("first call", 1),
        ("same", 0),
        ("scale 2", 1),
    ]
    assert "scale" in result.steps[2].guard_failures[0]
    assert result.status is CheckStatus.FAILED  # "scale 2" was allowed none


def test_recompile_limit_silent_fallback_is_detected():
    """Past recompile_limit without fullgraph dynamo runs eagerly; the check says so."""
    config = (("recompile_limit", 2), *SPECIALISE_MODULE_INTS)
    target = tiny.target(tiny.Counting, steady_calls=6, dynamo_config=config)
    result = audit_target(target, EAGER)
    # Counting never breaks, so the replay runs on the fullgraph compile: a hard failure.
    assert result.recompiles.limit_hit
    assert result.recompiles.fullgraph and not result.recompiles.silent_fallback
    branching = audit_target(tiny.target(tiny.Branching, steady_calls=2), EAGER).recompiles
    assert not branching.limit_hit


def test_recompile_limit_without_fullgraph_is_a_silent_fallback():
    """A module that graph-breaks and recompiles past the limit falls back to eager silently."""

    class BreaksAndCounts(tiny.Counting):
        def forward(self, x):
            self.calls += 1
            print("call", self.calls)
            return self.proj(x) * self.calls

    config = (("recompile_limit", 2), *SPECIALISE_MODULE_INTS)
    target = tiny.target(BreaksAndCounts, steady_calls=6, dynamo_config=config)
    result = audit_target(target, EAGER).recompiles
    assert not result.fullgraph
    assert result.limit_hit and result.silent_fallback
    assert result.status is CheckStatus.FAILED


def test_dynamo_config_is_restored_after_the_target():
    """A target's config override is scoped: recompile_limit is back to its value afterwards."""
    name = dynamo_config_name("recompile_limit")  # cache_size_limit on 2.6
    before = getattr(torch._dynamo.config, name)
    audit_target(tiny.target(tiny.Clean, dynamo_config=(("recompile_limit", 1),)), EAGER)
    assert getattr(torch._dynamo.config, name) == before


def test_parity_catches_a_compiled_only_difference():
    """Output and gradients that differ only under compile fail parity with the error size."""
    result = audit_target(tiny.target(tiny.DriftsWhenCompiled), AOT)
    parity = result.parity
    assert parity.status is CheckStatus.FAILED
    assert parity.worst_abs == pytest.approx(1e-3, rel=1e-2)
    assert parity.modes[0].output.name == "output"
    assert parity.modes[0].fp64_compiled_max_abs > parity.modes[0].fp64_eager_max_abs
    assert result.flagged == (CheckName.PARITY,)


def test_exceptions_compare_compiled_with_eager():
    """A raise in a fullgraph forward: eager ValueError, compiled dynamo's Unsupported: failed."""
    result = audit_target(tiny.target(tiny.Validating, bad_inputs=(tiny.WIDE_INPUT,)), EAGER)
    case = result.exceptions.cases[0]
    assert case.eager_type == "ValueError"
    assert case.eager_message == "expected 4 features, got 5"
    # torch 2.13's dynamo does not let a user exception leave a fullgraph region: it
    # raises Unsupported ("Observed exception"), naming the raise as a graph break.
    assert case.compiled_type == "Unsupported"
    assert case.graph_break is not None and case.graph_break.gb_type == "Observed exception"
    assert case.graph_break.location.line == tiny.line_of(tiny.Validating, "RAISE_LINE")
    assert not case.type_matches and not case.message_matches
    assert result.exceptions.status is CheckStatus.FAILED
    assert CheckName.EXCEPTIONS in result.flagged


def test_validating_outside_the_compiled_region_keeps_the_eager_exception():
    """A compile entry point that validates in Python first gives the eager ValueError."""

    def validated(module, *, backend, fullgraph):
        compiled = torch.compile(module, backend=backend, fullgraph=fullgraph)

        def call(x):
            module.validate_input(x)
            return compiled(x)

        return call

    target = tiny.target(tiny.Validating, bad_inputs=(tiny.WIDE_INPUT,), compile=validated)
    result = audit_target(target, EAGER)
    case = result.exceptions.cases[0]
    assert (case.compiled_type, case.compiled_message) == ("ValueError", case.eager_message)
    assert result.exceptions.status is CheckStatus.PASSED


def test_a_bad_input_eager_accepts_is_flagged():
    """A declared bad input that eager does not refuse is a failed case, not a pass."""
    target = tiny.target(tiny.Clean, bad_inputs=(tiny.WIDE_INPUT,))
    result = audit_target(target, EAGER)
    case = result.exceptions.cases[0]
    assert case.eager_type == "RuntimeError"  # the linear layer's shape error, not ValueError
    assert not case.type_matches
    assert result.exceptions.status is CheckStatus.FAILED


def test_compile_time_separates_the_first_call():
    """The first (compiling) call is timed apart from the steady calls that follow."""
    timing = audit_target(tiny.target(tiny.Clean, steady_calls=4), AOT).compile_time
    assert timing.steady_calls == 3
    assert timing.first_call_s > timing.steady_state_s
    assert timing.first_backward_s is not None  # train mode first: backward compiled too


def test_an_exception_in_a_target_becomes_status_error_with_traceback():
    """A build that raises yields status error, the exception and its traceback, not a crash."""

    def broken():
        raise RuntimeError("factory exploded")

    result = audit_target(tiny.target(broken), EAGER)
    assert result.status is TargetStatus.ERROR
    assert result.error.type == "RuntimeError"
    assert "factory exploded" in result.error.message
    assert "broken" in result.error.traceback
    assert result.error.check is CheckName.FULLGRAPH


class ChattyWhenAsked(Clean):
    """Clean until a scenario step sets `verbose`: then forward prints."""

    def __init__(self) -> None:
        super().__init__()
        self.verbose = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.verbose:
            print("verbose forward")
        return self.proj(x)


def test_a_break_that_appears_mid_scenario_fails_fullgraph():
    """fullgraph passes on the first call, a later step breaks: fullgraph fails, naming the step."""
    steps = (ScenarioStep(name="turn verbose on", action=lambda m: setattr(m, "verbose", True)),)
    result = audit_target(tiny.target(ChattyWhenAsked, scenario=steps, recompile_budget=2), EAGER)
    assert result.error is None, result.error
    assert result.fullgraph.status is CheckStatus.FAILED
    assert "turn verbose on" in result.fullgraph.error_message
    assert result.fullgraph.graph_break.location.code.startswith("print(")
    assert result.recompiles.steps[-1].error.startswith("Unsupported")
    # The compiled module now refuses to run; parity reports it instead of erroring.
    assert result.parity.status is CheckStatus.FAILED
    assert result.parity.modes[0].output.name.startswith("compiled call raised Unsupported")
