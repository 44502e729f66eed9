"""The audit's host benchmarks pick their size by device: not launch-bound on CUDA; on CPU."""

from dataclasses import dataclass

import pytest
import torch

import audits.checks.benchmark as benchmark_check
from audits.builtin_hosts import CNN_GPU, GPT_GPU, HOSTS, host_benchmark_size
from audits.builtin_targets import builtin_targets
from audits.checks.benchmark import benchmark_name, benchmark_size, benchmark_target
from audits.checks.common import CheckSettings
from audits.targets import BenchmarkSize, Target


@pytest.mark.parametrize("topology", ["cnn", "transformer"])
def test_cpu_keeps_the_audit_size(topology):
    """On CPU a host is benchmarked at the audit's size, under its plain name."""
    size = host_benchmark_size(topology, "cpu")
    assert size.build is HOSTS[topology]
    assert size.launch_bound is False
    target = next(t for t in builtin_targets() if t.name == f"host/{topology}")
    assert benchmark_name(target, size, "cpu") == f"host/{topology}"


def test_cuda_benchmarks_the_cnn_host_at_the_gpu_size():
    """cuda (and cuda:1) get a 64-channel CNNHost on a batch of 256 CIFAR-sized images."""
    for device in ("cuda", "cuda:1"):
        size = host_benchmark_size("cnn", device)
        assert size.launch_bound is False and "GPU size" in size.label
    host = size.build()
    assert host.blocks[0].conv.out_channels == CNN_GPU.base_channels
    (images,) = size.make_inputs()
    assert images.shape == (256, 3, 32, 32)


def test_cuda_benchmarks_the_transformer_host_at_the_gpu_size():
    """On CUDA the transformer is 768 wide on 8 x 512 tokens, not the audit's 32 x 16."""
    size = host_benchmark_size("transformer", "cuda")
    host = size.build()
    assert host.wte.embedding_dim == GPT_GPU.n_embd == 768
    (tokens,) = size.make_inputs()
    assert tokens.shape == (8, 512) and int(tokens.max()) < GPT_GPU.vocab_size


def test_a_launch_bound_or_other_size_is_named_in_the_result():
    """A size other than the audit's, or a launch-bound one, is written beside the name."""
    target = Target(name="host/x", build=torch.nn.Identity, make_inputs=lambda: ())
    gpu = BenchmarkSize(
        label="GPU size", build=torch.nn.Identity, make_inputs=tuple, launch_bound=False
    )
    assert benchmark_name(target, gpu, "cuda") == "host/x (GPU size)"
    tiny = BenchmarkSize(
        label="audit size", build=torch.nn.Identity, make_inputs=tuple, launch_bound=True
    )
    assert benchmark_name(target, tiny, "cuda") == "host/x (audit size; launch-bound on cuda)"
    assert benchmark_size(target, "cuda").launch_bound is None  # a user target: not known


@dataclass(frozen=True)
class _Seen:
    name: str
    width: int
    batch: int


def test_benchmark_target_measures_the_size_the_target_names(monkeypatch):
    """benchmark_target builds the size's module and inputs, and names the result after it."""
    seen = []

    def fake_benchmark_module(factory, inputs, config, *, task, name):
        module = factory()
        seen.append(_Seen(name=name, width=module.out_features, batch=inputs[0].shape[0]))
        return seen[-1]

    monkeypatch.setattr(benchmark_check, "benchmark_module", fake_benchmark_module)
    wide = BenchmarkSize(
        label="wide",
        build=lambda: torch.nn.Linear(4, 64),
        make_inputs=lambda: (torch.randn(16, 4),),
        launch_bound=False,
    )
    target = Target(
        name="t",
        build=lambda: torch.nn.Linear(4, 2),
        make_inputs=lambda: (torch.randn(2, 4),),
        benchmark=True,
        benchmark_size=lambda device: wide,
    )
    measured = benchmark_target(target, CheckSettings(bench=True))
    assert len(measured) == 2
    assert all(m == _Seen(name="t (wide)", width=64, batch=16) for m in measured)
