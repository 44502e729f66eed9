"""Peak memory on CPU, FLOP counting and the dense-peak table."""

import pytest
import torch

from benchmarks.probes import (
    count_flops,
    dense_peak_flops,
    matmul_precision,
    measure_peak_memory,
    model_flops_utilization,
)
from reporting.schema.measures import MemoryKind


def test_peak_rss_sees_a_large_allocation():
    """Allocating and touching 64 MiB raises the measured peak by most of that."""
    size = 16 * 1024 * 1024  # float32 elements: 64 MiB
    result = measure_peak_memory(lambda: torch.ones(size).sum(), "cpu", calls=1)
    assert result.kind in (MemoryKind.CPU_PEAK_RSS, MemoryKind.CPU_LIFETIME_PEAK_RSS)
    if result.kind is MemoryKind.CPU_PEAK_RSS:
        assert result.added_bytes >= 48 * 1024 * 1024
    assert result.peak_bytes >= result.baseline_bytes


def test_flop_counter_counts_a_matmul_as_two_mkn():
    """(m, k) @ (k, n) is 2*m*k*n FLOPs."""
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    assert count_flops(lambda: a @ b) == 2 * 8 * 16 * 4


def test_peak_table_names_h100_sxm_bf16_and_tells_pcie_apart():
    """H100 SXM bf16 is 989 TFLOPS dense; the PCIe part has its own figure."""
    assert dense_peak_flops("NVIDIA H100 80GB HBM3", "bf16") == 989e12
    assert dense_peak_flops("NVIDIA H100 PCIe", "bf16") == 756e12
    assert dense_peak_flops("AMD EPYC", "bf16") is None


def test_fp32_matmul_precision_follows_the_tf32_setting():
    """fp32 matmuls count against the TF32 peak only when TF32 is allowed."""
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("highest")
        assert matmul_precision(torch.float32) == "fp32"
        torch.set_float32_matmul_precision("high")
        assert matmul_precision(torch.float32) == "tf32"
    finally:
        torch.set_float32_matmul_precision(previous)
    assert matmul_precision(torch.bfloat16) == "bf16"


def test_mfu_is_achieved_over_peak():
    """1e12 FLOPs in 0.01 s against a 200 TFLOP/s peak is 50 %."""
    assert model_flops_utilization(10**12, 0.01, 200e12) == pytest.approx(0.5)
