"""What the checks share: the audit settings, input handling and dynamo counters."""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from audits.targets import Inputs, Target
from audits.torch_compat import compile_id_of, is_recompile_limit_message, readable_guard
from reporting.schema.vocabulary import Task

# Seeds for the loss weights, so that eager and compiled runs back-propagate
# the same upstream gradient.
_LOSS_SEED = 1234


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSettings:
    # torch.compile backend for everything but the breaks check: a name, or a backend
    # function (assert_compiles passes a user's own).
    backend: str | Callable[..., Any] = "inductor"
    device: str = "cpu"
    dtype: torch.dtype = torch.float32
    bench: bool = False  # benchmark targets that ask for it (Target.benchmark)
    # Checks that run only when asked for, by CheckName value: shapes, export, cache,
    # cudagraphs.
    optional: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise ValueError(f"dtype must be float32, bfloat16 or float16, got {self.dtype}")


def prepare_module(target: Target, settings: CheckSettings) -> nn.Module:
    module = target.fresh_module()
    module.to(device=settings.device)
    if settings.dtype != torch.float32:
        module.to(dtype=settings.dtype)
    set_mode(module, target.modes[0])
    return module


def prepare_inputs(make: Callable[[], Inputs], settings: CheckSettings) -> Inputs:
    return tuple(_place(x, settings) for x in make())


def target_inputs(target: Target, settings: CheckSettings) -> Inputs:
    return prepare_inputs(target.fresh_inputs, settings)


def _place(x: Any, settings: CheckSettings) -> Any:
    if not isinstance(x, torch.Tensor):
        return x
    grad = x.requires_grad
    x = x.detach().to(settings.device)
    if x.is_floating_point():
        x = x.to(settings.dtype)
    return x.requires_grad_(grad)


def set_mode(module: nn.Module, mode: Task) -> None:
    module.train(mode is Task.TRAIN)


def clear_grads(module: nn.Module) -> None:
    for p in module.parameters():
        p.grad = None


def clone_module(module: nn.Module) -> nn.Module:
    """An independent copy in the same state, without the gradients already accumulated."""
    twin = copy.deepcopy(module)
    clear_grads(twin)
    return twin


def to_double(module: nn.Module, inputs: Inputs) -> tuple[nn.Module, Inputs]:
    twin = clone_module(module).double()
    doubled = tuple(
        x.detach().double().requires_grad_(x.requires_grad)
        if isinstance(x, torch.Tensor) and x.is_floating_point()
        else x
        for x in inputs
    )
    return twin, doubled


def output_tensors(out: Any) -> list[torch.Tensor]:
    """Floating-point tensors of a (possibly nested) output, in a stable order."""
    found: list[torch.Tensor] = []

    def walk(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                walk(value[key])
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(out)
    return found


def scalar_loss(out: Any) -> torch.Tensor | None:
    """A fixed random projection of the outputs, or None when nothing needs a gradient.

    A plain sum would give a zero gradient through softmax-like outputs.
    """
    total: torch.Tensor | None = None
    gen = torch.Generator().manual_seed(_LOSS_SEED)
    for t in output_tensors(out):
        if not (t.is_floating_point() and t.requires_grad):
            continue
        weight = torch.randn(t.shape, generator=gen, dtype=torch.float32).to(t.device, t.dtype)
        term = (t * weight).sum()
        total = term if total is None else total + term
    return total


def backpropagate(out: Any) -> None:
    """Back-propagate `scalar_loss(out)`, when anything in `out` needs a gradient."""
    loss = scalar_loss(out)
    if loss is not None:
        loss.backward()


def named_grads(module: nn.Module, inputs: Inputs) -> Iterator[tuple[str, torch.Tensor | None]]:
    for name, p in module.named_parameters():
        if p.requires_grad:
            yield f"grad:{name}", p.grad
    for i, x in enumerate(inputs):
        if isinstance(x, torch.Tensor) and x.requires_grad:
            yield f"grad:input[{i}]", x.grad


class CompileLog:
    """Ids ("frame/compile", e.g. "0/1") of the dynamo compilations started in this process.

    Dynamo calls its start callbacks once per frame compilation, whether
    fullgraph is on or not and whether the compilation succeeds or not (a
    fullgraph failure is retried, and counted, on every call). Compilations of
    the backward graph are not dynamo compilations and are left out.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self, args: Any = None) -> None:
        compile_id = compile_id_of(args)
        if compile_id is not None:
            self.ids.append(compile_id)

    def installed(self) -> CompileLog:
        # torch._dynamo.reset() drops every callback, so re-register after one.
        import torch._dynamo

        handler = torch._dynamo.callback_handler
        if self not in handler.start_callbacks:
            handler.register_start_callback(self)
        return self

    def since(self, mark: int) -> list[str]:
        return self.ids[mark:]


COMPILE_LOG = CompileLog()


def compile_log() -> CompileLog:
    return COMPILE_LOG.installed()


def frame_of(compile_id: str) -> str:
    """The frame part of a compile id: "0/3" -> "0" (a recompile of frame 0)."""
    return compile_id.strip("[]").split("/")[0]


def max_frame_compiles(compile_ids: Iterable[str]) -> int:
    """The most compilations of any one frame: the count a recompile budget limits."""
    return max(Counter(frame_of(i) for i in compile_ids).values(), default=0)


def guard_failure_marks() -> dict[Any, int]:
    from torch._dynamo.utils import guard_failures

    return {code: len(reasons) for code, reasons in guard_failures.items()}


def guard_failures_since(marks: dict[Any, int]) -> list[str]:
    """Guard failures dynamo recorded since `marks`; dynamo records them only when it recompiles."""
    from torch._dynamo.utils import guard_failures

    found: list[str] = []
    for code, reasons in list(guard_failures.items()):
        found.extend(reasons[marks.get(code, 0) :])
    return found


_SPACES = re.compile(r"\s+")


def describe_guard(reason: str) -> str:
    """One line per failed guard: '0/1: self.calls == 1 # model.py:35 in forward (HINT: ...)'."""
    head = readable_guard(reason).split("\nUser stack trace:")[0]
    return _SPACES.sub(" ", head.replace("#   #", "#")).strip()


def guards_since(marks: dict[Any, int]) -> tuple[str, ...]:
    """The guard failures since `marks`, each described once, in order."""
    return tuple(dict.fromkeys(describe_guard(r) for r in guard_failures_since(marks)))


def recompile_limit_hits() -> int:
    from torch._dynamo.utils import counters

    return sum(n for msg, n in counters["unimplemented"].items() if is_recompile_limit_message(msg))
