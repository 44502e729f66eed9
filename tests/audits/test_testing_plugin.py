"""assert_compiles and the compile_audit plugin: each check fails with the audit's finding."""

from __future__ import annotations

import inspect
import re
import sys
import textwrap

import pytest
import torch
from support.torch_release import GB_REGISTRY, compiles_of_a_bumped_int
from torch import nn

from audits import compile_watch
from audits.compile_watch import CompileWatch
from audits.graph_breaks import _gb_codes
from audits.targets import ScenarioStep
from audits.testing import CompileAuditError, assert_compiles, assert_no_compiles
from reporting.schema.audit import CheckStatus, TargetStatus

# torch's words for a branch on a tensor value: the registry's type, or 2.6's own sentence
BRANCH_BREAK = (
    "Data-dependent branching"
    if GB_REGISTRY
    else "Dynamic control flow is not supported at the moment."
)

pytest_plugins = ["pytester"]


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.calls = 0
        self.scale = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.proj(x)) * self.scale


class Branching(Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        if y.sum() > 0:  # data-dependent branching: a graph break
            return y * 2
        return y


class Counting(Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1  # an int attribute dynamo guards on: a recompile per call
        return self.proj(x) * self.calls


def nudged(gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]):
    """A deliberately wrong backend: every output is off by 1e-2."""

    def run(*args: torch.Tensor):
        return [out + 1e-2 for out in gm(*args)]

    return run


def line_of(obj: object, text: str) -> str:
    """ "file.py:N" of the line of `obj`'s source that contains `text`."""
    lines, first = inspect.getsourcelines(obj)  # type: ignore[arg-type]
    offset = next(i for i, line in enumerate(lines) if text in line)
    return f"{inspect.getsourcefile(obj).rsplit('/', 1)[-1]}:{first + offset}"  # type: ignore[arg-type,union-attr]


def x() -> torch.Tensor:
    return torch.randn(2, 4)


def test_clean_module_passes_with_one_graph_and_one_compile():
    """A module without hazards passes and returns the audit's typed results."""
    result = assert_compiles(Linear(), x())
    assert result.status is TargetStatus.PASSED
    assert result.breaks is not None and result.breaks.graph_count == 1
    assert result.recompiles is not None and result.recompiles.max_frame_compiles == 1
    assert result.parity is not None and result.parity.status is CheckStatus.PASSED


def test_graph_break_fails_with_type_file_line_and_hint():
    """A break names its GB code (where torch has the registry), the user's line and the hint."""
    with pytest.raises(CompileAuditError) as raised:
        assert_compiles(Branching(), x())
    text = str(raised.value)
    code = _gb_codes().get("Data-dependent branching")
    assert f"graph break [{code}]" in text if code else "graph break: " in text
    assert BRANCH_BREAK in text
    assert f"{line_of(Branching, 'if y.sum() > 0')}: if y.sum() > 0:" in text
    if GB_REGISTRY:  # 2.6's message has no hint apart from its one sentence
        assert "\n    hint: " in text
    assert raised.value.result is not None and raised.value.result.breaks.break_count >= 1


def test_graph_break_passes_without_fullgraph_and_counts_the_graphs():
    """fullgraph=False measures the break without failing on it."""
    result = assert_compiles(Branching(), x(), fullgraph=False)
    assert result.breaks is not None and result.breaks.graph_count == 2


def test_recompile_fails_with_the_failed_guard():
    """Calls recompile on self.calls: the message names the guard and the budget."""
    with pytest.raises(CompileAuditError, match=r"recompiles failed") as raised:
        assert_compiles(Counting(), x())
    text = str(raised.value)
    assert f"compiled {compiles_of_a_bumped_int(4)}x for a budget of 1" in text
    assert re.search(r"guard failed: \d+/\d+: self\.calls == \d", text), text


@pytest.mark.slow
def test_recompiles_within_max_compiles_pass():
    """The same compilations pass a budget of exactly that many."""
    compiles = compiles_of_a_bumped_int(4)
    result = assert_compiles(Counting(), x(), max_compiles=compiles)
    assert result.recompiles is not None and result.recompiles.max_frame_compiles == compiles


@pytest.mark.slow
def test_scenario_step_that_recompiles_is_named():
    """A state change between calls is a scenario step; its recompile names the step."""
    step = ScenarioStep(name="rescale", action=lambda m: setattr(m, "scale", 2.0))
    with pytest.raises(CompileAuditError, match=r"step 'rescale': guard failed: .*scale"):
        assert_compiles(Linear(), x(), scenario=[step])
    assert_compiles(Linear(), x(), scenario=[step], max_compiles=2)


def test_parity_fails_with_tensor_errors_and_tolerance():
    """A backend off by 1e-2 fails parity: tensor, max abs/rel error and tolerance."""
    with pytest.raises(CompileAuditError, match=r"parity failed") as raised:
        assert_compiles(Linear(), x(), backend=nudged)
    text = str(raised.value)
    assert "parity (train): output differs, max abs 1.00e-02" in text
    assert "tolerance (fp32): atol 1e-05, rtol 1e-04" in text


def test_parity_off_passes_the_same_backend():
    """parity=False leaves the nudged outputs unjudged (and still measured)."""
    result = assert_compiles(Linear(), x(), backend=nudged, parity=False)
    assert result.parity is None or result.parity.status is CheckStatus.FAILED


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_compiles": 0}, ValueError, r"max_compiles must be an int >= 1.*got 0"),
        ({"backend": "nope"}, ValueError, r"unknown torch.compile backend 'nope'.*aot_eager"),
        ({"backend": 3}, TypeError, r"backend must be a backend name or a callable, got int"),
        ({"scenario": ["grow"]}, TypeError, r"ScenarioStep items, got str"),
        ({"module": "net"}, TypeError, r"module must be an nn.Module, got str"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, error, match):
    """Bad arguments fail before anything compiles, naming the value."""
    module = kwargs.pop("module", Linear())
    with pytest.raises(error, match=match):
        assert_compiles(module, x(), **kwargs)


def test_assert_no_compiles_passes_after_warm_up_and_fails_on_a_recompile():
    """A warmed-up module runs without compiling; a guard miss inside the block fails."""
    module = Linear()
    compiled = torch.compile(module, backend="eager")
    compiled(x())
    with assert_no_compiles():
        compiled(x())
    module.scale = 3.0
    with pytest.raises(CompileAuditError, match=r"assert_no_compiles: .*compil"):
        with assert_no_compiles():
            compiled(x())


def test_watch_falls_back_on_fullgraph_where_torch_has_no_error_on_graph_break(monkeypatch):
    """Without error_on_graph_break the watch compiles with fullgraph=True: the break raises."""
    monkeypatch.setattr(compile_watch, "has_error_on_graph_break", lambda: False)
    with CompileWatch(name="fallback") as watch:
        compiled = torch.compile(Branching(), backend="eager")
        with pytest.raises(torch._dynamo.exc.Unsupported) as raised:
            compiled(x())
    assert watch.switches[0] == "torch.compile(fullgraph=True)"
    result = watch.verdict(raised.value)
    assert result.fullgraph is not None and result.fullgraph.graph_break is not None
    gb_type = result.fullgraph.graph_break.gb_type
    assert gb_type == BRANCH_BREAK if GB_REGISTRY else gb_type.startswith(BRANCH_BREAK)
    assert torch.compile.__name__ == "compile"  # the real one is back


INNER_TESTS = """
import pytest
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.calls = 0

    def forward(self, x):
        return torch.relu(self.proj(x))


class Branching(Net):
    def forward(self, x):
        y = self.proj(x)
        if y.sum() > 0:
            return y * 2
        return y


class Counting(Net):
    def forward(self, x):
        self.calls += 1
        return self.proj(x) * self.calls


def nudged(gm, example_inputs):
    return lambda *args: [out + 1e-2 for out in gm(*args)]


def run(module, calls=3):
    compiled = torch.compile(module, backend="eager")
    for _ in range(calls):
        compiled(torch.randn(2, 4))


@pytest.mark.compile_audit
def test_marker_clean():
    run(Net())


@pytest.mark.compile_audit
def test_marker_break():
    run(Branching())


@pytest.mark.compile_audit(fullgraph=False)
def test_marker_break_allowed():
    run(Branching())


@pytest.mark.compile_audit
def test_marker_recompile():
    run(Counting())


@pytest.mark.compile_audit(max_compiles=3)
def test_marker_recompiles_within_budget():
    run(Counting())


@pytest.mark.compile_audit(max_compiles=2)
def test_marker_recompiles_over_budget():
    run(Counting())


def test_fixture_parity(compile_audit):
    compile_audit(Net(), torch.randn(2, 4), backend=nudged)


def test_fixture_parity_off(compile_audit):
    compile_audit(Net(), torch.randn(2, 4), backend=nudged, parity=False)


@pytest.mark.compile_audit
def test_fixture_inside_marker(compile_audit):
    run(Net(), calls=1)
    result = compile_audit(Net(), torch.randn(2, 4))
    assert result.breaks.graph_count == 1
    run(Net(), calls=1)
"""


def inner_line(source: str, text: str, module: str = "test_audited") -> str:
    """ "module.py:N" of the line containing `text` in a file pytester wrote from `source`."""
    lines = textwrap.dedent(source).strip().splitlines()  # as makepyfile writes it
    return f"{module}.py:{next(i for i, line in enumerate(lines, 1) if text in line)}"


def literal(pattern: str) -> str:
    """`pattern` with its square brackets matched literally by fnmatch."""
    return pattern.replace("[", "[[]")


@pytest.mark.slow  # nine audited tests in one in-process pytest session: about 12 s
def test_plugin_marker_and_fixture_fail_with_the_finding(pytester):
    """One pytester run: a failing and a passing test for breaks, recompiles and parity."""
    pytester.makepyfile(test_audited=INNER_TESTS)
    result = pytester.runpytest_inprocess("-p", "audits.pytest_plugin", "-p", "no:logging")
    result.assert_outcomes(passed=5, failed=4)
    failed = {r.head_line for r in result.reprec.getreports("pytest_runtest_logreport")
              if r.when == "call" and r.failed}  # fmt: skip
    assert failed == {
        "test_marker_break",
        "test_marker_recompile",
        "test_marker_recompiles_over_budget",
        "test_fixture_parity",
    }
    code = _gb_codes().get("Data-dependent branching")
    result.stdout.fnmatch_lines(
        [
            "*_ test_marker_break _*",
            "*CompileAuditError: compile_audit of test_marker_break: fullgraph failed",
            literal(f"*graph break{f' [{code}]' if code else ''}: Data-dependent branching"),
            f"*at {inner_line(INNER_TESTS, 'if y.sum() > 0')}: if y.sum() > 0:",
            "*hint: *",
            f"*torch.compile(Branching) at {inner_line(INNER_TESTS, 'compiled = torch.compile')}",
            "*_ test_marker_recompile _*",
            "*compile_audit of test_marker_recompile: recompiles failed",
            "*compiled 2x for a budget of 1",
            "*step 'test_marker_recompile': guard failed: 0/0: self.calls == 0 *",
            "*_ test_marker_recompiles_over_budget _*",
            "*compiled 3x for a budget of 2",
            "*step 'test_marker_recompiles_over_budget': guard failed: *self.calls*",
            "*_ test_fixture_parity _*",
            "*assert_compiles(Net, backend='nudged'*): parity failed",
            "*parity (train): output differs, max abs 1.00e-02, *",
            "*tolerance (fp32): atol 1e-05, rtol 1e-04",
        ]
    )


OPTION_TESTS = """
import pytest
import torch


def test_unmarked_break():
    def branch(x):
        if x.sum() > 0:
            return x * 2
        return x

    torch.compile(branch, backend="eager")(torch.ones(2))


@pytest.mark.compile_audit(budget=2)
def test_bad_marker():
    pass
"""


def test_option_audits_every_test_and_bad_usage_is_named(pytester):
    """--compile-audit audits unmarked tests; unknown marker arguments are named."""
    pytester.makepyfile(test_option=OPTION_TESTS)
    result = pytester.runpytest_inprocess(
        "-p", "audits.pytest_plugin", "-p", "no:logging", "--compile-audit"
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*compile_audit of test_unmarked_break: fullgraph failed",
            f"*{inner_line(OPTION_TESTS, 'if x.sum() > 0', 'test_option')}: if x.sum() > 0:",
            literal("*compile_audit got unknown argument(s) ['budget']; valid: *"),
        ]
    )


def test_bad_backend_option_is_a_usage_error(pytester):
    """An unknown --compile-audit-backend stops the session, listing the backends."""
    result = pytester.runpytest_inprocess(
        "-p", "audits.pytest_plugin", "--compile-audit-backend", "nope"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--compile-audit-backend: unknown torch.compile backend 'nope'*"])


def test_entry_point_names_the_plugin_module():
    """pyproject registers the plugin under its module name, so -p finds it registered."""
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else None
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    entry = project["project"]["entry-points"]["pytest11"]
    assert entry == {"audits.pytest_plugin": "audits.pytest_plugin"}
    from audits import pytest_plugin

    assert callable(pytest_plugin.pytest_addoption) and callable(pytest_plugin.compile_audit)
