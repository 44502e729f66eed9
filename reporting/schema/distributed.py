"""Typed results of the distributed check: a target wrapped in DDP or FSDP2, run as ranks.

Each rank compiles the wrapped module, runs it on its own inputs, and compares its
outputs with the unwrapped eager module on the same inputs, and its parameter gradients
(averaged across ranks by the wrapper) with the average of the eager gradients of every
rank's inputs. What a rank found is a `RankResult`; the target's is a `DistributedResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from reporting.schema.basics import CheckStatus, GraphBreakInfo, TensorDiff


class Wrapper(str, Enum):
    DDP = "ddp"  # torch.nn.parallel.DistributedDataParallel
    FSDP2 = "fsdp2"  # torch.distributed.fsdp.fully_shard


class CompileOrder(str, Enum):
    """Which of the two is applied first: torch.compile or the wrapper."""

    # DDP(torch.compile(m)), fully_shard(torch.compile(m)): dynamo traces the module itself
    # and, under DDP, DDPOptimizer splits its graph at the bucket boundaries.
    COMPILE_THEN_WRAP = "wrap(compile(m))"
    # torch.compile(DDP(m)), torch.compile(fully_shard(m)): dynamo starts at the wrapper.
    WRAP_THEN_COMPILE = "compile(wrap(m))"


@dataclass(frozen=True, slots=True, kw_only=True)
class RankResult:
    """What one rank saw: graphs, recompiles and parity with eager."""

    rank: int
    dynamo_graphs: int  # graphs dynamo captured over the first call
    compiled_graphs: int  # graphs the backend compiled: DDPOptimizer splits dynamo's at buckets
    buckets: tuple[int, ...] = ()  # DDPOptimizer's bucket count for each graph it split
    ops_per_graph: tuple[int, ...] = ()  # of each compiled graph, in compile order
    break_count: int = 0  # graph breaks dynamo took, repeated ones included
    breaks: tuple[GraphBreakInfo, ...] = ()  # distinct by (type, location)
    calls: int = 0  # forward and backward calls made, the compiling one included
    total_compiles: int = 0  # dynamo compilations over all calls
    max_frame_compiles: int = 0  # of the most compiled frame; compared with the budget
    guard_failures: tuple[str, ...] = ()  # the failed guard behind each recompile
    output: TensorDiff  # the rank's output against eager on the same inputs
    worst_grad: TensorDiff | None = None  # against the mean of eager's per-rank gradients
    grads_compared: int = 0
    grad_presence_mismatch: tuple[str, ...] = ()  # params with a gradient in one run only
    first_call_s: float = 0.0  # the forward and backward that compiled
    passed: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributedResult:
    status: CheckStatus
    wrapper: Wrapper
    order: CompileOrder
    world_size: int
    process_group: str = "gloo"  # torch.distributed backend; the ranks run on CPU
    bucket_cap_mb: float | None = None  # DDP's bucket cap; None: DDP's default
    min_graphs: int = 1  # compiled graphs each rank must show (two: at least one bucket split)
    budget: int = 1  # most compilations the target allows any one frame, per rank
    ranks: tuple[RankResult, ...] = ()
    skipped_reason: str | None = None  # e.g. no fully_shard in this torch
    launch_s: float = 0.0  # wall time from launching the ranks to the last one's exit

    @property
    def fewest_graphs(self) -> int | None:
        return min((r.compiled_graphs for r in self.ranks), default=None)

    @property
    def most_compiles(self) -> int | None:
        return max((r.max_frame_compiles for r in self.ranks), default=None)
