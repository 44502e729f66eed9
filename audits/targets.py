"""What the audit audits: a typed record per module.

A target names how to build a fresh module and its example inputs, the modes
to check, the bad inputs with what eager raises for them, a recompile budget,
and optionally a scenario: named steps that change the module's state between
calls (a seed's lifecycle, an alpha ramp). Checks only ever read targets.

Factories are callables rather than built modules so that the parent process
can list targets without running a torch op (children are forked from it) and
each check can start from a fresh, identically seeded module.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from reporting.schema.audit import CheckName, TargetResult, TargetStatus
from reporting.schema.distributed import CompileOrder, Wrapper
from reporting.schema.shapes import DimKind
from reporting.schema.vocabulary import Task

if TYPE_CHECKING:
    from audits.child import Job

Inputs = tuple[Any, ...]


# What a Target and the runner's Job share, and every TargetResult starts from.
IDENTITY_FIELDS = ("name", "group", "description", "expected_flags", "informational")


def identity(source: Target | Job) -> dict[str, Any]:
    """The identity fields of a target or job, to build a job or a result from."""
    return {field: getattr(source, field) for field in IDENTITY_FIELDS}


def result_shell(source: Target | Job, **fields: Any) -> TargetResult:
    """A result with `source`'s identity plus `fields` (passed unless a status is given)."""
    return TargetResult(**identity(source), **{"status": TargetStatus.PASSED, **fields})


class CompileFn(Protocol):
    """How a target is compiled; `torch.compile` unless the target says otherwise."""

    def __call__(
        self, module: nn.Module, *, backend: Any, fullgraph: bool
    ) -> Callable[..., Any]: ...


def torch_compile(module: nn.Module, *, backend: Any, fullgraph: bool) -> Callable[..., Any]:
    return torch.compile(module, backend=backend, fullgraph=fullgraph)


@dataclass(frozen=True, slots=True, kw_only=True)
class BadInput:
    """An input the module must refuse, and what eager raises for it."""

    name: str
    make_inputs: Callable[[], Inputs]
    raises: type[BaseException]
    match: str | None = None  # regex the eager message must contain

    def __post_init__(self) -> None:
        if not (isinstance(self.raises, type) and issubclass(self.raises, BaseException)):
            raise ValueError(
                f"BadInput {self.name!r}: raises must be an exception class, got {self.raises!r}"
            )
        if self.match is not None:
            re.compile(self.match)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioStep:
    """A state change applied between calls (never inside forward), then `calls` calls."""

    name: str
    action: Callable[[nn.Module], None] | None = None
    calls: int = 1
    max_compiles: int | None = None  # budget for this step alone, e.g. 0 during an alpha ramp

    def __post_init__(self) -> None:
        if self.calls < 1:
            raise ValueError(f"ScenarioStep {self.name!r}: calls must be >= 1, got {self.calls}")
        if self.max_compiles is not None and self.max_compiles < 0:
            raise ValueError(
                f"ScenarioStep {self.name!r}: max_compiles must be >= 0, got {self.max_compiles}"
            )

    def apply(self, module: nn.Module) -> None:
        """The state change, outside autograd; nothing for a step without an action."""
        if self.action is not None:
            with torch.no_grad():
                self.action(module)


@dataclass(frozen=True, slots=True, kw_only=True)
class DynamicDim:
    """An input dimension whose size changes between calls in real use.

    Dims of the same kind share one size per call (a host and a seed tensor have
    the same batch); `max_size` bounds the sizes tried (a transformer's block_size).
    """

    input: int  # position of the tensor in the target's inputs
    dim: int
    kind: DimKind
    max_size: int | None = None
    sizes: tuple[int, ...] = ()  # sizes to sweep; empty: the kind's default sweep

    def __post_init__(self) -> None:
        if self.input < 0 or self.dim < 0:
            raise ValueError(
                f"DynamicDim: input and dim must be >= 0, got input={self.input}, dim={self.dim}"
            )
        if not isinstance(self.kind, DimKind):
            raise ValueError(f"DynamicDim: kind must be a DimKind, got {self.kind!r}")
        if self.max_size is not None and self.max_size < 1:
            raise ValueError(f"DynamicDim: max_size must be >= 1, got {self.max_size}")
        if any(s < 1 for s in self.sizes):
            raise ValueError(f"DynamicDim: sizes must be >= 1, got {self.sizes}")
        if self.max_size is not None and any(s > self.max_size for s in self.sizes):
            raise ValueError(f"DynamicDim: sizes {self.sizes} exceed max_size {self.max_size}")


def batch_dims(*inputs: int) -> tuple[DynamicDim, ...]:
    """Dim 0 of each named input is the batch."""
    return tuple(DynamicDim(input=i, dim=0, kind=DimKind.BATCH) for i in inputs)


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchmarkSize:
    """What a target's eager-vs-compiled benchmark measures on one device."""

    label: str  # shown beside the speedup, e.g. "audit size" or "GPU size: 768 wide"
    build: Callable[[], nn.Module]  # a fresh module; called under the target's seed
    make_inputs: Callable[[], Inputs]
    # True: kernel launches, not the work, set the time on this device, so a speedup of
    # about 1x says nothing about compiling; None: not known.
    launch_bound: bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributedSpec:
    """How a distributed target is wrapped and launched (`--distributed`).

    Every rank builds the module under the target's seed, so all start from the same
    weights, and makes its inputs under the seed plus its rank, so the wrapper has
    different gradients to average.
    """

    wrapper: Wrapper
    order: CompileOrder = CompileOrder.COMPILE_THEN_WRAP
    world_size: int = 2
    # DDP's bucket cap. torch.compile's DDPOptimizer refuses caps below its 1 MiB first
    # bucket (torch 2.13: "First bucket should be smaller/equal to other buckets"), so a
    # module needs more than 1 MiB of parameters for DDP to split its graph.
    bucket_cap_mb: float | None = None
    min_graphs: int = 1  # compiled graphs each rank must show; 2: the buckets split the graph

    def __post_init__(self) -> None:
        cap = self.bucket_cap_mb
        if not isinstance(self.wrapper, Wrapper):
            valid = ", ".join(w.value for w in Wrapper)
            problem = f"wrapper must be a Wrapper ({valid}), got {self.wrapper!r}"
        elif self.world_size < 2:
            problem = f"world_size must be >= 2, got {self.world_size}"
        elif cap is not None and self.wrapper is not Wrapper.DDP:
            problem = f"bucket_cap_mb is DDP's; got {cap} with {self.wrapper.value}"
        elif cap is not None and not cap > 0:
            problem = f"bucket_cap_mb must be > 0, got {cap}"
        elif self.min_graphs < 1:
            problem = f"min_graphs must be >= 1, got {self.min_graphs}"
        else:
            return
        raise ValueError(f"DistributedSpec: {problem}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    name: str  # unique, "/"-separated, matched by --targets globs
    build: Callable[[], nn.Module]  # a fresh module; called under torch.manual_seed(seed)
    make_inputs: Callable[[], Inputs]  # fresh example inputs; same seeding
    modes: tuple[Task, ...] = (Task.TRAIN, Task.INFER)
    bad_inputs: tuple[BadInput, ...] = ()
    recompile_budget: int = 1  # compilations allowed over the whole replay
    scenario: tuple[ScenarioStep, ...] = ()  # empty: call steady_calls times with the same inputs
    steady_calls: int = 4
    group: str = "user"
    description: str = ""
    benchmark: bool = False  # also measure eager vs compiled throughput (unless --no-bench)
    # The size to benchmark on a device ("cpu", "cuda"); None: this target's own module and
    # inputs. The audit's sizes are launch-bound on a GPU (1.00x on an H200, torch 2.11).
    benchmark_size: Callable[[str], BenchmarkSize] | None = None
    compile: CompileFn = torch_compile
    # Checks expected to fail (hazards only); a clean target leaves this empty.
    expected_flags: tuple[CheckName, ...] = ()
    # Report-only: findings are shown but never fail the run (the guard comparison).
    informational: bool = False
    # torch._dynamo.config overrides, applied with config.patch for this target only.
    dynamo_config: tuple[tuple[str, Any], ...] = ()
    # Input dims whose size varies in real use (the shapes check sweeps them); None: not
    # declared, so the shapes check skips the target.
    dynamic_dims: tuple[DynamicDim, ...] | None = None
    # Set: the target runs wrapped in DDP or FSDP2 as `world_size` ranks, through the
    # distributed check alone, in train mode (its bad inputs and shapes are not used).
    distributed: DistributedSpec | None = None
    seed: int = 0
    # A picklable way to build this same target in a new interpreter (the cache check
    # compiles it in fresh processes); the catalog and --target set it. None: no way.
    reload: Callable[[], Target] | None = None

    def __post_init__(self) -> None:
        if not self.name or any(c.isspace() for c in self.name):
            raise ValueError(f"target name must be non-empty without spaces, got {self.name!r}")
        places = [(d.input, d.dim) for d in self.dynamic_dims or ()]
        if not self.modes:
            problem = "modes must name train and/or eval"
        elif len(set(self.modes)) != len(self.modes):
            problem = f"modes repeat: {self.modes}"
        elif self.recompile_budget < 1:
            problem = (
                f"recompile_budget must be >= 1 (the first compile), got {self.recompile_budget}"
            )
        elif self.steady_calls < 2:
            problem = f"steady_calls must be >= 2, got {self.steady_calls}"
        elif len(set(places)) != len(places):
            problem = f"dynamic_dims name an (input, dim) twice: {places}"
        elif self.distributed is not None and self.scenario:
            problem = (
                "a distributed target replays its steady calls; it cannot have a scenario "
                f"({len(self.scenario)} steps given)"
            )
        else:
            return
        raise ValueError(f"target {self.name!r}: {problem}")

    def fresh_module(self) -> nn.Module:
        torch.manual_seed(self.seed)
        return self.build()

    def fresh_inputs(self) -> Inputs:
        # Seeded apart from the module so inputs do not depend on how many
        # parameters build() initialised.
        torch.manual_seed(self.seed + 1)
        inputs = self.make_inputs()
        return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)

    def steps(self) -> tuple[ScenarioStep, ...]:
        """The scenario; without one, the steady calls after the first, allowed no compile."""
        repeat = ScenarioStep(name="repeat", calls=self.steady_calls - 1, max_compiles=0)
        return self.scenario or (repeat,)


def target_from_pair(
    name: str,
    pair: tuple[nn.Module, Any],
    *,
    group: str = "user",
    dynamic_dims: tuple[DynamicDim, ...] | None = None,
) -> Target:
    """Wrap the simple `(module, example_inputs)` form of a user factory.

    The module is built once by the user's factory; each check gets a deep copy
    of it (in its initial state) so that checks do not see each other's changes.
    Unless `dynamic_dims` says otherwise, the first dimension of every tensor
    input is taken to be a batch that varies between calls.
    """
    module, example = pair
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"{name}: the pair's first item must be an nn.Module, got {type(module).__name__}"
        )
    inputs = tuple(example) if isinstance(example, (tuple, list)) else (example,)
    pristine_module = copy.deepcopy(module)
    pristine_inputs = tuple(
        (x.detach().clone(), x.requires_grad) if isinstance(x, torch.Tensor) else (x, False)
        for x in inputs
    )

    def build() -> nn.Module:
        return copy.deepcopy(pristine_module)

    def make_inputs() -> Inputs:
        return tuple(
            x.clone().requires_grad_(grad) if isinstance(x, torch.Tensor) else x
            for x, grad in pristine_inputs
        )

    if dynamic_dims is None:
        dynamic_dims = batch_dims(
            *(i for i, x in enumerate(inputs) if isinstance(x, torch.Tensor) and x.dim() > 0)
        )
    return Target(
        name=name, build=build, make_inputs=make_inputs, group=group, dynamic_dims=dynamic_dims
    )
