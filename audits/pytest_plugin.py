"""The pytest plugin: the `compile_audit` fixture, marker and options.

Installed with esper through the `pytest11` entry point. It adds

- the fixture `compile_audit`: `compile_audit(module, inputs, ...)` is
  `audits.testing.assert_compiles` with the session's backend as default, and
  `compile_audit.no_compiles()` is `assert_no_compiles`;
- the marker `@pytest.mark.compile_audit(fullgraph=True, max_compiles=1)`, and the
  option `--compile-audit` that applies it to every test: each torch.compile call in
  the test runs under a `CompileWatch` and the test fails with the audit's finding;
- the option `--compile-audit-backend NAME` (default aot_eager) for the fixture.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import pytest
import torch
from torch import nn

from audits.compile_watch import CompileWatch
from audits.targets import ScenarioStep
from audits.testing import (
    Backend,
    CompileAuditError,
    assert_compiles,
    assert_no_compiles,
    check_backend,
    failure_message,
    judged_checks,
)
from reporting.schema.audit import TargetResult

MARKER = "compile_audit"
_MARKER_ARGS = ("fullgraph", "max_compiles")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compile-audit", "torch.compile audit (esper)")
    group.addoption(
        "--compile-audit",
        action="store_true",
        default=False,
        help="audit every torch.compile call in every test, as @pytest.mark.compile_audit "
        "does: a graph break or a recompile fails the test with the audit's finding",
    )
    group.addoption(
        "--compile-audit-backend",
        default="aot_eager",
        help="torch.compile backend the compile_audit fixture audits with (default: "
        "aot_eager, which needs no compiler; inductor for generated kernels)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(fullgraph=True, max_compiles=1): every torch.compile call in the test "
        "is audited; a graph break (with fullgraph) or more than max_compiles "
        "compilations of a frame fails the test with the audit's finding",
    )
    try:
        check_backend(config.getoption("compile_audit_backend"))
    except ValueError as exc:
        raise pytest.UsageError(f"--compile-audit-backend: {exc}") from None


def _watch_arguments(item: pytest.Item) -> dict[str, Any] | None:
    """The marker's arguments, {} for --compile-audit alone, None when the test is not audited."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return {} if item.config.getoption("compile_audit") else None
    if marker.args:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.{MARKER} takes keyword arguments "
            f"{_MARKER_ARGS}, got positional {marker.args!r}"
        )
    unknown = sorted(set(marker.kwargs) - set(_MARKER_ARGS))
    if unknown:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.{MARKER} got unknown argument(s) {unknown}; "
            f"valid: {_MARKER_ARGS}"
        )
    return dict(marker.kwargs)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    __tracebackhide__ = True  # the finding is the audit's message, not this hook's code
    arguments = _watch_arguments(item)
    if arguments is None:
        return (yield)
    import torch._dynamo

    # Each audited test starts from fresh caches, as each audited target does.
    torch._dynamo.reset()
    watch = CompileWatch(name=item.name, **arguments)
    error: Exception | None = None
    with watch:
        try:
            outcome = yield
        except Exception as exc:  # judged below: a break or recompile becomes the finding
            error = exc
        result = watch.verdict(error)
    judged = judged_checks(fullgraph=watch.fullgraph, parity=False)
    message = failure_message(f"compile_audit of {item.name}", result, judged)
    if message is None:
        if error is not None:
            raise error
        return outcome
    lines = [message]
    lines.extend(f"  {site}" for site in watch.sites)
    if watch.switches:
        lines.append(f"  audited with {', '.join(watch.switches)}")
    raise CompileAuditError("\n".join(lines), result) from error


class CompileAudit:
    """What the `compile_audit` fixture hands a test; keeps every result it produced."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.results: list[TargetResult] = []

    def __call__(
        self,
        module: nn.Module,
        inputs: Any,
        *,
        fullgraph: bool = True,
        max_compiles: int = 1,
        parity: bool = True,
        scenario: Iterable[ScenarioStep] | None = None,
        backend: Backend | None = None,
    ) -> TargetResult:
        """`assert_compiles`, with the session's --compile-audit-backend unless one is given."""
        result = assert_compiles(
            module,
            inputs,
            fullgraph=fullgraph,
            max_compiles=max_compiles,
            parity=parity,
            scenario=scenario,
            backend=self.backend if backend is None else backend,
        )
        self.results.append(result)
        return result

    no_compiles = staticmethod(assert_no_compiles)


@pytest.fixture
def compile_audit(request: pytest.FixtureRequest) -> Generator[CompileAudit, None, None]:
    """Audit modules inside a test: `compile_audit(module, inputs, max_compiles=1)`."""
    yield CompileAudit(backend=check_backend(request.config.getoption("compile_audit_backend")))
    # The audit leaves dynamo reset; so does the test that used it.
    torch._dynamo.reset()


__all__ = ["CompileAudit", "CompileAuditError", "compile_audit"]
