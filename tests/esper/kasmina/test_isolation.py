"""STE and blend math, the alpha ramp and the gradient isolation monitor."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch._dynamo.testing import CompileCounterWithBackend
from torch.utils._python_dispatch import TorchDispatchMode

from esper.kasmina.isolation import (
    AlphaSchedule,
    GradientIsolationMonitor,
    blend_with_isolation,
    ste_forward,
)

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, width=32)
vectors = st.lists(finite, min_size=1, max_size=16)


@settings(max_examples=60, deadline=None)
@given(host=vectors, seed=vectors)
def test_ste_forward_equals_host_exactly(host, seed):
    """The STE output is bit-for-bit the host features."""
    n = min(len(host), len(seed))
    h = torch.tensor(host[:n])
    s = torch.tensor(seed[:n])
    assert torch.equal(ste_forward(h, s), h)


@settings(max_examples=30, deadline=None)
@given(host=vectors, seed=vectors)
def test_ste_forward_gradients_reach_both(host, seed):
    """d(out)/d(host) and d(out)/d(seed) are both the identity."""
    n = min(len(host), len(seed))
    h = torch.tensor(host[:n], requires_grad=True)
    s = torch.tensor(seed[:n], requires_grad=True)
    upstream = torch.arange(1.0, n + 1)
    ste_forward(h, s).backward(upstream)
    assert torch.equal(h.grad, upstream)
    assert torch.equal(s.grad, upstream)


@settings(max_examples=60, deadline=None)
@given(
    host=vectors, seed=vectors, alpha=st.floats(-2.0, 3.0, allow_nan=False), as_tensor=st.booleans()
)
def test_blend_is_a_clamped_lerp(host, seed, alpha, as_tensor):
    """blend = host + clamp(alpha) * (seed - host), for float and 0-d tensor alpha."""
    n = min(len(host), len(seed))
    h = torch.tensor(host[:n], dtype=torch.float64)
    s = torch.tensor(seed[:n], dtype=torch.float64)
    a = min(max(alpha, 0.0), 1.0)
    weight = torch.tensor(alpha, dtype=torch.float64) if as_tensor else alpha
    out = blend_with_isolation(h, s, weight)
    torch.testing.assert_close(out, h + a * (s - h), rtol=1e-9, atol=1e-6)


def test_blend_endpoints_are_exact():
    """alpha 0 gives the host, alpha 1 the seed."""
    h, s = torch.randn(5), torch.randn(5)
    assert torch.equal(blend_with_isolation(h, s, 0.0), h)
    assert torch.equal(blend_with_isolation(h, s, torch.tensor(1.0)), s)


@pytest.mark.parametrize("detach_host, host_grad", [(True, None), (False, 0.7)])
def test_blend_detach_host_controls_host_gradient(detach_host, host_grad):
    """With detach_host the host leg gets no gradient; without, it gets (1 - alpha)."""
    h = torch.randn(4, requires_grad=True)
    s = torch.randn(4, requires_grad=True)
    blend_with_isolation(h, s, 0.3, detach_host=detach_host).sum().backward()
    if host_grad is None:
        assert h.grad is None
    else:
        torch.testing.assert_close(h.grad, torch.full((4,), host_grad))
    torch.testing.assert_close(s.grad, torch.full((4,), 0.3))


def test_blend_rejects_nan_float_alpha():
    """A nan alpha is refused with a message naming the allowed range."""
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\], got nan"):
        blend_with_isolation(torch.zeros(2), torch.ones(2), float("nan"))


class _BlendAtFloatAlpha(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.alpha = 0.3  # a plain Python float, moved between calls like a hand-written ramp

    def forward(self, host, seed):
        return blend_with_isolation(host, seed, self.alpha)


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_float_alpha_moving_every_step_compiles_twice(backend):
    """A float alpha that changes every call costs the first compile and one more, no more."""
    torch._dynamo.reset()
    module = _BlendAtFloatAlpha()
    counter = CompileCounterWithBackend(backend)
    compiled = torch.compile(module, fullgraph=True, backend=counter)
    host = torch.randn(4, 16, requires_grad=True)
    seed = torch.randn(4, 16, requires_grad=True)
    for alpha in (0.3, 0.1, 0.3, 0.5, 0.7, 0.9, 1.5):
        module.alpha = alpha
        out = compiled(host, seed)
        expected = host.detach() + (seed - host.detach()) * min(alpha, 1.0)
        torch.testing.assert_close(out, expected, msg=lambda m, a=alpha: f"alpha {a}: {m}")
        out.sum().backward()
    torch._dynamo.reset()
    assert counter.frame_count == 2


def test_blend_tensor_alpha_matches_host_dtype():
    """A float32 alpha buffer blends bfloat16 features without a dtype error."""
    h = torch.randn(3, dtype=torch.bfloat16)
    s = torch.randn(3, dtype=torch.bfloat16)
    assert blend_with_isolation(h, s, torch.tensor(0.5)).dtype == torch.bfloat16


@settings(max_examples=40, deadline=None)
@given(total=st.integers(1, 200), temperature=st.floats(0.1, 5.0))
def test_alpha_schedule_is_monotone_from_start_to_end(total, temperature):
    """The sigmoid ramp starts at start, ends at end and never goes back."""
    schedule = AlphaSchedule(total_steps=total, start=0.0, end=1.0, temperature=temperature)
    values = [schedule(i) for i in range(total + 1)]
    assert values[0] == pytest.approx(0.0, abs=1e-12)
    assert values[-1] == pytest.approx(1.0, abs=1e-12)
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    assert schedule(total + 10) == values[-1] and schedule(-3) == values[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"total_steps": 0}, "total_steps must be a positive int"),
        ({"total_steps": 5, "start": -0.1}, r"start must be in \[0, 1\]"),
        ({"total_steps": 5, "temperature": 0.0}, "temperature must be a positive"),
    ],
)
def test_alpha_schedule_rejects_bad_arguments(kwargs, match):
    """Bad schedule arguments raise ValueError naming the value."""
    with pytest.raises(ValueError, match=match):
        AlphaSchedule(**kwargs)


class _CountSyncs(TorchDispatchMode):
    """Counts ops that copy a device value to Python (what .item() dispatches)."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func)
        return func(*args, **(kwargs or {}))


def _monitor_with_grads(host_grad_scale):
    host = torch.nn.Linear(4, 4)
    seed = torch.nn.Linear(4, 4)
    for p in host.parameters():
        p.grad = torch.full_like(p, host_grad_scale)
    for p in seed.parameters():
        p.grad = torch.full_like(p, 2.0)
    monitor = GradientIsolationMonitor(threshold=1e-6)
    monitor.register(host, seed)
    return monitor


def test_monitor_reports_norms_and_counts_violations():
    """Norms are the global L2 norms; a host gradient above threshold is a violation."""
    monitor = _monitor_with_grads(1.0)
    isolated, stats = monitor.check_isolation()
    assert not isolated and stats["violations"] == 1
    assert stats["host_grad_norm"] == pytest.approx(math.sqrt(20.0))
    assert stats["seed_grad_norm"] == pytest.approx(math.sqrt(20.0 * 4.0))
    monitor.check_isolation()
    assert monitor.violations == 2
    monitor.reset()
    assert monitor.violations == 0


def test_monitor_isolated_when_host_has_no_gradient():
    """Zero host gradients mean isolation held."""
    isolated, stats = _monitor_with_grads(0.0).check_isolation()
    assert isolated and stats["isolated"] and stats["violations"] == 0


def test_monitor_excludes_seed_params_from_host():
    """A seed that is a submodule of the host is not counted as host."""
    host = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    seed = host[1]
    for p in seed.parameters():
        p.grad = torch.ones_like(p)
    monitor = GradientIsolationMonitor()
    monitor.register(host, seed)
    isolated, _ = monitor.check_isolation()
    assert isolated


def test_monitor_uses_foreach_norm_and_no_item_per_tensor(monkeypatch):
    """check_isolation fuses the norms and copies to Python once (one tolist)."""
    monitor = _monitor_with_grads(1.0)
    calls = {"tolist": 0}
    original = torch.Tensor.tolist

    def counting_tolist(self):
        calls["tolist"] += 1
        return original(self)

    monkeypatch.setattr(torch.Tensor, "tolist", counting_tolist)
    with _CountSyncs() as mode:
        monitor.check_isolation()
    names = [str(op) for op in mode.ops]
    assert any("_foreach_norm" in n for n in names)
    assert not any("_local_scalar_dense" in n for n in names)  # no .item()/float(tensor)
    assert calls["tolist"] == 1


@pytest.mark.parametrize(
    ("temperature", "step", "expected"),
    [
        # The documented curve: a logistic over -6..+6 logits (times temperature), rescaled
        # to run exactly from start to end. Values worked out by hand from that definition.
        (1.0, 1, 0.0451766597),
        (1.0, 2, 0.5),
        (1.0, 3, 0.9548233403),
        (2.0, 1, 0.0024665093),
        (0.5, 1, 0.1491464521),
    ],
)
def test_alpha_schedule_is_the_documented_sigmoid(temperature, step, expected):
    """Not just any monotone ramp: the rescaled logistic, at quarter and half points."""
    ramp = AlphaSchedule(total_steps=4, temperature=temperature)
    assert ramp(step) == pytest.approx(expected, abs=1e-9)
    half_ramp = AlphaSchedule(total_steps=4, start=0.2, end=0.6, temperature=temperature)
    assert half_ramp(step) == pytest.approx(0.2 + 0.4 * expected, abs=1e-9)


@pytest.mark.parametrize("host_grad, isolated", [(0.5, True), (0.5001, False)])
def test_monitor_threshold_is_inclusive(host_grad, isolated):
    """A host gradient norm equal to the threshold still counts as isolated."""
    host, seed = torch.nn.Linear(1, 1, bias=False), torch.nn.Linear(1, 1, bias=False)
    host.weight.grad = torch.full_like(host.weight, host_grad)  # norm = host_grad exactly
    seed.weight.grad = torch.ones_like(seed.weight)
    monitor = GradientIsolationMonitor(threshold=0.5)
    monitor.register(host, seed)
    assert monitor.check_isolation()[0] is isolated


def test_monitor_accepts_a_zero_threshold_and_refuses_a_negative_one():
    """threshold=0.0 demands no host gradient at all; below zero is a mistake."""
    monitor = GradientIsolationMonitor(threshold=0.0)
    monitor.register(torch.nn.Linear(1, 1), torch.nn.Linear(1, 1))
    assert monitor.check_isolation()[0]  # no gradients yet: norm 0.0 <= 0.0
    with pytest.raises(ValueError, match=r"threshold must be >= 0, got -1"):
        GradientIsolationMonitor(threshold=-1)
