"""Check 2: with fullgraph=False, how many graphs, and where does dynamo break?

Graph capture is dynamo's alone, so this check compiles with the "eager"
backend whatever `--backend` says: the graphs and breaks are the same and no
kernel is generated for them. It cannot reuse the fullgraph compile: a call
such as `.item()` can compile under fullgraph=True yet break without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from audits.graph_breaks import break_from_reason
from audits.targets import Inputs, Target
from reporting.schema.audit import BreaksResult, CheckStatus, GraphBreakInfo


class GraphRecorder:
    """A backend that records each graph dynamo hands it (its op count), then compiles it
    with `backend`, or runs it as is without one."""

    def __init__(self, backend: str | Callable[..., Any] | None = None) -> None:
        from torch._dynamo.backends.registry import lookup_backend

        self.backend = lookup_backend(backend) if isinstance(backend, str) else backend
        self.ops_per_graph: list[int] = []

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
        ops = ("call_function", "call_method", "call_module")
        self.ops_per_graph.append(sum(1 for n in gm.graph.nodes if n.op in ops))
        return gm.forward if self.backend is None else self.backend(gm, example_inputs)


def check_breaks(
    target: Target, module: nn.Module, make_inputs: Callable[[], Inputs]
) -> BreaksResult:
    """Compile a fresh `module` with fullgraph=False and replay the target on it once."""
    recorder = GraphRecorder()
    compiled = target.compile(module, backend=recorder, fullgraph=False)
    reasons_before = break_reason_mark()
    inputs = make_inputs()
    compiled(*inputs)
    first_call_graphs = len(recorder.ops_per_graph)
    for step in target.scenario:
        step.apply(module)
        compiled(*inputs)
    count, distinct = breaks_since(reasons_before)
    return BreaksResult(
        status=CheckStatus.FAILED if count else CheckStatus.PASSED,
        graph_count=first_call_graphs,
        break_count=count,
        breaks=distinct,
        ops_per_graph=tuple(recorder.ops_per_graph[:first_call_graphs]),
    )


def breaks_since(mark: int) -> tuple[int, tuple[GraphBreakInfo, ...]]:
    """Graph breaks dynamo took since `mark` (a length of its reason list): count, distinct.

    Breaks are distinct by (type, location); the count includes repeated ones.
    """
    from torch._dynamo.utils import graph_break_reasons

    reasons = [r for r in graph_break_reasons[mark:] if getattr(r, "graph_break", True)]
    distinct: dict[tuple[str, Any], GraphBreakInfo] = {}
    for reason in reasons:
        info = break_from_reason(reason)
        distinct.setdefault((info.gb_type, info.location), info)
    return len(reasons), tuple(distinct.values())


def break_reason_mark() -> int:
    """The mark `breaks_since` counts from: how many reasons dynamo has recorded so far."""
    from torch._dynamo.utils import graph_break_reasons

    return len(graph_break_reasons)
