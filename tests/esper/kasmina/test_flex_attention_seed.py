"""The FlexAttention seed: FlexAttention where it trains, the same attention with SDPA elsewhere."""

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend

from esper.kasmina.blueprints import BlueprintRegistry, transformer

if not hasattr(transformer, "FlexAttentionSeed"):
    pytest.skip("this torch has no FlexAttention", allow_module_level=True)

AttentionKernel = transformer.AttentionKernel
FlexAttentionSeed = transformer.FlexAttentionSeed

DIM = 32
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _seed(kernel=None, n_head=2, device="cpu"):
    """A seed whose output projection is moved off zero, so attention reaches the output.

    Seeded, so every call builds the same weights whatever the kernel.
    """
    torch.manual_seed(0)
    seed = BlueprintRegistry.create(
        "transformer", "flex_attention", DIM, n_head=n_head, kernel=kernel
    )
    with torch.no_grad():
        seed.proj.weight.normal_(0.0, 0.2)
    return seed.to(device)


def _features(device="cpu"):
    return torch.randn(2, 8, DIM, generator=torch.Generator().manual_seed(1)).to(device)


@pytest.mark.parametrize(
    "device, head_dim, kernel",
    [
        ("cuda", 16, AttentionKernel.FLEX),
        ("cuda", 64, AttentionKernel.FLEX),
        ("cuda", 8, AttentionKernel.SDPA),  # below FlexAttention's minimum of 16
        ("cuda", 24, AttentionKernel.SDPA),  # not a power of two
        ("cpu", 16, AttentionKernel.SDPA),  # no FlexAttention backward on CPU
        ("meta", 16, AttentionKernel.SDPA),
    ],
)
def test_kernel_follows_device_and_head_dim(device, head_dim, kernel):
    """FlexAttention only on CUDA with a power-of-two head dim of at least 16."""
    assert FlexAttentionSeed.kernel_for(device, head_dim) is kernel


def test_seed_trains_on_cpu_with_sdpa():
    """On CPU the registry's seed uses SDPA, so a backward pass reaches every parameter."""
    seed = _seed(n_head=1)  # head dim 32: FlexAttention would run on CUDA
    assert seed.attention_kernel is AttentionKernel.SDPA
    seed(_features()).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in seed.parameters())


def test_fixed_kernel_survives_a_move():
    """kernel= is kept across .to(); without it the choice is made again for the new device."""
    seed = _seed(kernel="flex_attention").to(torch.float64)
    assert seed.attention_kernel is AttentionKernel.FLEX
    assert _seed().to(torch.float64).attention_kernel is AttentionKernel.SDPA


def test_unknown_kernel_is_refused():
    """An unknown kernel name raises ValueError naming the known ones."""
    with pytest.raises(
        ValueError, match=r"kernel must be one of \['flex_attention', 'sdpa'\] or None, got 'fa3'"
    ):
        BlueprintRegistry.create("transformer", "flex_attention", DIM, kernel="fa3")


def test_kernels_agree_on_cpu_forward():
    """Same weights, same input: FlexAttention and SDPA give the same output (CPU, no grad)."""
    x = _features()
    with torch.no_grad():
        flex_out = _seed(kernel="flex_attention")(x)
        sdpa_out = _seed(kernel="sdpa")(x)
    assert not torch.allclose(sdpa_out, x)  # the attention really contributes
    torch.testing.assert_close(flex_out, sdpa_out, rtol=1e-5, atol=1e-5)


@CUDA
def test_seed_picks_flex_attention_when_moved_to_cuda():
    """A seed built on CPU switches to FlexAttention on .cuda() and back to SDPA on .cpu()."""
    seed = _seed(n_head=2)  # head dim 16
    assert seed.attention_kernel is AttentionKernel.SDPA
    assert seed.cuda().attention_kernel is AttentionKernel.FLEX
    assert seed.cpu().attention_kernel is AttentionKernel.SDPA


@CUDA
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "inductor"])
def test_kernels_agree_on_cuda_outputs_and_gradients(compiled):
    """Same weights on CUDA: outputs and parameter gradients of both kernels match."""
    results = {}
    for kernel in AttentionKernel:
        seed = _seed(kernel=kernel, device="cuda")
        run = torch.compile(seed, fullgraph=True) if compiled else seed
        out = run(_features("cuda"))
        out.square().sum().backward()
        results[kernel] = (out.detach(), {n: p.grad for n, p in seed.named_parameters()})
        torch._dynamo.reset()
    (flex_out, flex_grads), (sdpa_out, sdpa_grads) = (results[k] for k in AttentionKernel)
    torch.testing.assert_close(flex_out, sdpa_out, rtol=1e-4, atol=1e-4)
    for name, grad in sdpa_grads.items():
        torch.testing.assert_close(flex_grads[name], grad, rtol=1e-3, atol=1e-4, msg=name)


@pytest.mark.parametrize(
    "kernel",
    # Tracing flex_attention takes seconds: the fast loop keeps the SDPA kernel.
    [
        pytest.param(k, marks=pytest.mark.slow) if k is AttentionKernel.FLEX else k
        for k in AttentionKernel
    ],
    ids=lambda k: k.value,
)
def test_both_kernels_compile_fullgraph(kernel):
    """fullgraph=True traces either kernel in one frame, matching eager (CPU, no grad)."""
    seed = _seed(kernel=kernel)
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(seed, fullgraph=True, backend=counter)
    x = _features()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), seed(x), rtol=1e-5, atol=1e-5)
    assert counter.frame_count == 1
