"""Hazard: an inductor custom pass given as a plain function, and its clean counterpart.

Inductor runs `post_grad_custom_post_pass` on every graph, so the pass is part of
what a cached graph depends on. A plain function cannot be hashed into the FX graph
cache key, so inductor bypasses the cache ("Unsupported post grad custom pass",
torch._inductor.codecache.CacheabilityValidator) and AOTAutograd's cache with it:
every process compiles from scratch, warm or not. The same pass as a
`CustomGraphPass` with a `uuid()` is part of the key, and the caches work.
"""

from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn
from torch._inductor.custom_graph_pass import CustomGraphPass

from audits.hazards._common import WIDTH, hazard_target
from audits.targets import Target
from reporting.schema.audit import CheckName


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up = nn.Linear(WIDTH, 2 * WIDTH)
        self.down = nn.Linear(2 * WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.relu(self.up(x)))


GRAPH_SIZES: list[int] = []  # what the pass saw: the node count of each graph


def count_nodes(graph: fx.Graph) -> None:
    """A pass that only looks: how big is each graph inductor compiles?"""
    GRAPH_SIZES.append(len(graph.nodes))


class CountNodes(CustomGraphPass):
    """`count_nodes` with the identity the FX graph cache needs."""

    def __call__(self, graph: fx.Graph) -> None:
        count_nodes(graph)

    def uuid(self) -> Any:
        return "esper.hazards.count_nodes.v1"


def _compile_with_pass(the_pass: Callable[[fx.Graph], None]) -> Callable[..., Any]:
    def compile_with_pass(module: nn.Module, *, backend: Any, fullgraph: bool) -> Any:
        if backend != "inductor":  # inductor's option; another backend has no custom passes
            return torch.compile(module, backend=backend, fullgraph=fullgraph)
        options: dict[str, str | int | bool | Callable[..., Any]] = {
            "post_grad_custom_post_pass": the_pass
        }
        return torch.compile(module, backend=backend, fullgraph=fullgraph, options=options)

    return compile_with_pass


def target() -> Target:
    return hazard_target(
        "plain_custom_pass",
        MLP,
        expected=(CheckName.CACHE,),
        description="torch.compile(options={'post_grad_custom_post_pass': a plain function})",
        compile=_compile_with_pass(count_nodes),
    )


def clean_target() -> Target:
    return hazard_target(
        "plain_custom_pass_clean",
        MLP,
        expected=(),
        description="the plain_custom_pass hazard's pass as a CustomGraphPass with a uuid()",
        compile=_compile_with_pass(CountNodes()),
    )
