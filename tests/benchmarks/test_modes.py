"""Compile modes and the reduce-overhead step wrapper, exercised on CPU."""

import pytest
import torch

from benchmarks.steps import compile_module, make_runner
from reporting.schema.benchmark_settings import MeasureConfig
from reporting.schema.vocabulary import CompileMode, Precision


def test_reduce_overhead_marks_each_step_and_clones_kept_outputs(monkeypatch):
    """Every step begins a CUDA-graph step; a kept output is a copy, not the graph's buffer."""
    marks = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    buffer = torch.arange(3.0)
    runner = make_runner(lambda: {"loss": buffer}, CompileMode.REDUCE_OVERHEAD, keep_output=True)
    first, second = runner(), runner()
    assert len(marks) == 2
    assert torch.equal(first["loss"], buffer)
    assert first["loss"].data_ptr() != buffer.data_ptr()
    assert second["loss"].data_ptr() != first["loss"].data_ptr()


def test_reduce_overhead_drops_outputs_nobody_keeps(monkeypatch):
    """Inference outputs that are discarded are not cloned."""
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: None)
    runner = make_runner(lambda: torch.ones(2), CompileMode.REDUCE_OVERHEAD, keep_output=False)
    assert runner() is None


def test_other_modes_run_the_step_unwrapped():
    """Eager and default mode call the step itself, with no per-call bookkeeping."""

    def step():
        return 1

    assert make_runner(step, CompileMode.DEFAULT, keep_output=True) is step
    assert make_runner(step, CompileMode.EAGER, keep_output=True) is step


def test_compile_module_leaves_eager_alone_and_compiles_otherwise():
    """Eager returns the module itself; a compiled module computes the same values."""
    module = torch.nn.Linear(4, 2)
    x = torch.randn(3, 4)
    assert compile_module(module, CompileMode.EAGER) is module
    compiled = compile_module(module, CompileMode.DEFAULT, backend="eager")
    assert compiled is not module
    torch.testing.assert_close(compiled(x), module(x))


def test_inductor_modes_need_the_inductor_backend():
    """reduce-overhead and max-autotune are inductor modes; another backend is refused."""
    with pytest.raises(ValueError, match="needs the inductor backend"):
        compile_module(torch.nn.Linear(2, 2), CompileMode.MAX_AUTOTUNE, backend="aot_eager")


def test_unknown_mode_and_dtype_names_list_the_valid_ones():
    """Parsing errors name every accepted value."""
    with pytest.raises(ValueError, match="reduce-overhead"):
        CompileMode.parse("turbo")
    with pytest.raises(ValueError, match="fp32, bf16"):
        Precision.parse("fp16")


def test_reduce_overhead_on_cpu_is_refused_by_the_config():
    """CUDA graphs do not exist on CPU, so the config says so instead of measuring nothing."""
    with pytest.raises(ValueError, match="needs --device cuda"):
        MeasureConfig(device="cpu", modes=(CompileMode.REDUCE_OVERHEAD,))
