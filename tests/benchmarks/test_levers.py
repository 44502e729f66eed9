"""The workload levers (vocab padding, optimizer step, TF32, pure bf16) on CPU at tiny
sizes: each changes what it claims."""

import dataclasses

import pytest
import torch

from benchmarks.probes import NO_SDPA_OP, attention_kernel, count_flops, kernels_in
from benchmarks.runner import workload_candidates
from benchmarks.specs import SIZES, Topology, Variant, WorkloadSpec
from benchmarks.steps import (
    compile_module,
    optimizer_step,
    padded_vocab,
    scoped_levers,
    scoped_tf32,
)
from benchmarks.workloads import build_host_model, host_workload
from reporting.schema.benchmark_settings import (
    CompileTimeScope,
    MeasureConfig,
    OptimizerStep,
    SdpaKernel,
    WorkloadOptions,
)
from reporting.schema.vocabulary import CompileMode, Task

CHEAP = MeasureConfig(
    backend="eager",
    rounds=1,
    min_block_s=0.0,
    warmup_max_blocks=1,
    compile_time=CompileTimeScope.NONE,
    resamples=20,
    threads=1,
)


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture
def odd_vocab(monkeypatch):
    """The tiny transformer with a 50-token vocabulary, which 64 does not divide."""
    key = (Topology.TRANSFORMER, "tiny")
    monkeypatch.setitem(SIZES, key, dataclasses.replace(SIZES[key], vocab_size=50))


def _spec(task=Task.TRAIN, variant=Variant.BARE, topology=Topology.TRANSFORMER):
    return WorkloadSpec(topology=topology, size="tiny", task=task, variant=variant)


def _step(spec, mode=CompileMode.EAGER, options=None):
    return host_workload(spec, CHEAP.seed).step(mode, CHEAP, options)


def test_padded_vocab_rounds_up_to_a_multiple_of_64():
    """gpt2's 50257 becomes 50304; a multiple stays; nonsense is refused."""
    assert padded_vocab(50257) == 50304
    assert padded_vocab(64) == 64 and padded_vocab(1) == 64
    with pytest.raises(ValueError, match="vocab_size=0"):
        padded_vocab(0)


def test_pad_vocab_widens_the_model_but_not_the_flop_count(odd_vocab):
    """The padded model has 64 rows; FLOPs are counted on the unpadded build."""
    spec = _spec()
    padded = WorkloadOptions(pad_vocab=True)
    model = build_host_model(spec, torch.device("cpu"), padded)
    assert model.wte.num_embeddings == 64 and model.lm_head.out_features == 64
    config = dataclasses.replace(CHEAP, options=padded)
    (eager, compiled) = workload_candidates([host_workload(spec, config.seed)], config)
    plain_flops = count_flops(_step(spec))
    assert count_flops(eager.flops_build()) == plain_flops
    assert count_flops(eager.build()) > plain_flops  # the padded step does more work


def test_fused_optimizer_is_fused_and_compiled_optimizer_is_compiled():
    """FUSED builds AdamW(fused=True); COMPILED wraps its step in torch.compile."""
    params = [torch.nn.Parameter(torch.ones(3))]
    fused = optimizer_step(params, OptimizerStep.FUSED, CompileMode.DEFAULT, "eager")
    assert fused.__self__.defaults["fused"] is True
    compiled = optimizer_step(params, OptimizerStep.COMPILED, CompileMode.DEFAULT, "eager")
    assert compiled._torchdynamo_orig_callable.__self__.defaults["fused"] is None
    eager = optimizer_step(params, OptimizerStep.COMPILED, CompileMode.EAGER, "eager")
    assert not hasattr(eager, "_torchdynamo_orig_callable")  # eager has no compiler


@pytest.mark.parametrize(
    "optimizer",
    # Compiling the optimizer step takes seconds: out of the fast loop.
    [
        pytest.param(o, marks=pytest.mark.slow) if o is OptimizerStep.COMPILED else o
        for o in OptimizerStep
    ],
)
def test_every_optimizer_lever_trains(optimizer):
    """A compiled training step with each optimizer lever runs and returns a finite loss."""
    step = _step(_spec(), CompileMode.DEFAULT, WorkloadOptions(optimizer=optimizer))
    assert torch.isfinite(step()).all() and torch.isfinite(step()).all()


@pytest.mark.parametrize("topology", list(Topology))
def test_pure_bf16_stores_parameters_in_bf16(topology):
    """Every parameter and float input is bf16, token ids stay integers, and a step runs."""
    options = WorkloadOptions(pure_bf16=True)
    spec = _spec(topology=topology, variant=Variant.SEED_BLENDING)
    model, inputs = host_workload(spec, 0).build(torch.device("cpu"), options, seed=0)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    expected = torch.bfloat16 if topology is Topology.CNN else torch.int64
    assert inputs[0].dtype == expected and inputs[1].dtype == torch.int64
    step = _step(spec, options=options)
    assert torch.isfinite(step()).all()


def test_tf32_is_cuda_only_and_its_scope_restores_the_settings():
    """On CPU the lever is refused as not applicable; the scope puts every flag back."""
    assert "not applicable on cpu" in WorkloadOptions(tf32=True).not_applicable("cpu")
    with pytest.raises(ValueError, match="TF32"):
        MeasureConfig(device="cpu", options=WorkloadOptions(tf32=True))
    before = (
        torch.get_float32_matmul_precision(),
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    with scoped_tf32():
        assert torch.get_float32_matmul_precision() == "high"
        assert torch.backends.cuda.matmul.allow_tf32
    after = (
        torch.get_float32_matmul_precision(),
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    assert after == before


def test_kernel_names_map_from_op_names():
    """The CPU flash op is not taken for CUDA flash; backward ops are ignored."""
    assert kernels_in(["aten::_scaled_dot_product_flash_attention_for_cpu"]) == ("flash (cpu)",)
    assert kernels_in(["aten::_scaled_dot_product_efficient_attention_backward"]) == ()
    assert kernels_in(["aten::_scaled_dot_product_flash_attention", "aten::mm"]) == ("flash",)
    assert kernels_in(["aten::_scaled_dot_product_cudnn_attention"]) == ("cudnn",)


def test_the_attention_kernel_follows_the_sdpa_lever():
    """Unrestricted, CPU SDPA runs its flash kernel; with only MATH allowed, math."""
    spec = _spec(task=Task.INFER)
    auto = _step(spec)
    assert attention_kernel(auto) == "flash (cpu)"
    math_only = _step(spec, options=WorkloadOptions(sdpa=SdpaKernel.MATH))
    assert attention_kernel(math_only) == "math"
    assert attention_kernel(lambda: torch.ones(2) @ torch.ones(2)) == NO_SDPA_OP


def test_sdpa_scope_is_restored():
    """The allowed backends return to all-enabled after a scoped MATH call."""
    with scoped_levers(WorkloadOptions(sdpa=SdpaKernel.MATH), torch.device("cpu")):
        assert not torch.backends.cuda.flash_sdp_enabled()
    assert torch.backends.cuda.flash_sdp_enabled() and torch.backends.cuda.math_sdp_enabled()


def test_freezing_goes_to_torch_compile_options_merged_with_the_mode(monkeypatch):
    """torch.compile gets options (mode's own plus freezing), never mode and options both."""
    seen = {}

    def fake_compile(module, **kwargs):
        seen.update(kwargs)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    options = WorkloadOptions(freezing=True, weight_prepack=False).inductor_options()
    compile_module(
        torch.nn.Linear(2, 2), CompileMode.MAX_AUTOTUNE_NO_CUDAGRAPHS, inductor_options=options
    )
    assert "mode" not in seen
    assert seen["options"]["freezing"] is True
    assert seen["options"]["cpp.weight_prepack"] is False
    assert seen["options"]["max_autotune"] is True
    with pytest.raises(ValueError, match="weight_prepack=False"):
        WorkloadOptions(weight_prepack=False)


@pytest.mark.slow
def test_a_frozen_inductor_compile_leaves_the_global_config_alone():
    """Freezing applies to this module's compile only: inductor's config is unchanged."""
    import torch._inductor.config as inductor_config

    before = (inductor_config.freezing, inductor_config.cpp.weight_prepack)
    module = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU()).eval()
    compiled = compile_module(
        module,
        CompileMode.DEFAULT,
        inductor_options=WorkloadOptions(freezing=True).inductor_options(),
    )
    x = torch.randn(2, 8)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), module(x))
    assert (inductor_config.freezing, inductor_config.cpp.weight_prepack) == before


def test_the_compiled_optimizer_step_compiles_in_the_candidates_mode(monkeypatch):
    """Under reduce-overhead the optimizer step is compiled in that mode (CUDA graphs too)."""
    seen = {}

    def fake_compile(fn, **kwargs):
        seen.update(kwargs)
        return fn

    monkeypatch.setattr(torch, "compile", fake_compile)
    parameters = [torch.nn.Parameter(torch.ones(2))]
    optimizer_step(parameters, OptimizerStep.COMPILED, CompileMode.REDUCE_OVERHEAD, "inductor")
    assert seen["mode"] == "reduce-overhead"
