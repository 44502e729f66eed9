"""GPU names map to a part and a hardware class; goals follow the class, peaks the part."""

import dataclasses

import pytest

from benchmarks.goals import Hardware
from benchmarks.probes import dense_peak_flops
from foundation.environment import EnvironmentRecord
from foundation.hardware import HardwareClass, gpu_part, hardware_class

HOPPER, AMPERE, ADA, BLACKWELL = (
    HardwareClass.HOPPER,
    HardwareClass.AMPERE,
    HardwareClass.ADA,
    HardwareClass.BLACKWELL,
)


@pytest.mark.parametrize(
    ("device_name", "part", "klass", "bf16_tflops"),
    [
        ("NVIDIA H200", "H200 SXM", HOPPER, 989),
        ("NVIDIA H100 80GB HBM3", "H100 SXM", HOPPER, 989),
        ("NVIDIA H100 PCIe", "H100 PCIe", HOPPER, 756),
        ("NVIDIA GH200 480GB", "GH200", HOPPER, 989),
        ("NVIDIA A100-SXM4-80GB", "A100", AMPERE, 312),
        ("NVIDIA A100-PCIE-40GB", "A100", AMPERE, 312),
        ("NVIDIA L4", "L4", ADA, 121),
        ("NVIDIA L40S", "L40S", ADA, 362),
        ("NVIDIA GeForce RTX 4090", "RTX 4090", ADA, 165.2),
        ("NVIDIA B200", "B200", BLACKWELL, 2250),
    ],
)
def test_device_names_give_the_part_its_class_and_dense_bf16_peak(
    device_name, part, klass, bf16_tflops
):
    """GH200 is not read as H200, L40S not as L4, the PCIe H100 not as the SXM one."""
    found = gpu_part(device_name)
    assert found is not None and found.name == part
    assert hardware_class(device_name) is klass
    assert dense_peak_flops(device_name, "bf16") == pytest.approx(bf16_tflops * 1e12)
    assert dense_peak_flops(device_name, "fp16") == dense_peak_flops(device_name, "bf16")


def test_unlisted_gpus_have_no_class_and_no_peak():
    """An A10 (a substring of A100's name) or a CPU gets no guess."""
    for name in ("NVIDIA A10", "NVIDIA A10G", "Tesla T4", "AMD EPYC 7B13", "NVIDIA L40"):
        assert gpu_part(name) is None, name
        assert dense_peak_flops(name, "bf16") is None


def test_peaks_per_precision_and_a_bad_precision_is_named():
    """tf32 and fp32 have their own figures; an unknown precision raises with its name."""
    h100 = gpu_part("NVIDIA H100 80GB HBM3")
    assert h100.peak("tf32") == pytest.approx(494.5e12)
    assert h100.peak("fp32") == pytest.approx(67e12)
    assert gpu_part("NVIDIA A100-SXM4-80GB").peak("tf32") == pytest.approx(156e12)
    with pytest.raises(ValueError, match="'fp8'"):
        h100.peak("fp8")


def _cuda_environment(name: str) -> EnvironmentRecord:
    return EnvironmentRecord(
        torch_version="2.11.0",
        python_version="3.12.0",
        platform="linux",
        device_kind="cuda",
        device_name=name,
        cpu_model="x",
        cpu_count=16,
        threads=1,
        interop_threads=1,
        cuda_version="13.0",
        cuda_driver=None,
        cuda_capability="9.0",
        git_sha=None,
        git_dirty=None,
        time_utc="2026-01-01T00:00:00Z",
    )


def test_a_hopper_goal_is_judged_on_every_hopper_part_only():
    """The H200 of the first CUDA run reads the Hopper goals; an A100 and a CPU do not."""
    for name in ("NVIDIA H200", "NVIDIA H100 PCIe", "NVIDIA GH200 480GB"):
        assert Hardware.HOPPER.matches(_cuda_environment(name)), name
    assert not Hardware.HOPPER.matches(_cuda_environment("NVIDIA A100-SXM4-80GB"))
    cpu = dataclasses.replace(_cuda_environment("NVIDIA H200"), device_kind="cpu")
    assert not Hardware.HOPPER.matches(cpu)
