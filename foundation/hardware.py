"""GPU parts by hardware class, with the vendor's dense peak FLOP/s per precision.

A goal is written for a class (Hopper), not a part: the H200 and GH200 have the H100
SXM's tensor cores and clocks, so a Hopper goal is judged on any of them. The peaks
are NVIDIA's datasheet figures without structured sparsity: the datasheets print the
sparse figure with an asterisk, and the dense one is half of it, given here in whole
TFLOP/s as the datasheets round it (989 for 1,979*). fp16 and bf16 share a
figure on every part listed (with fp32 accumulate on the RTX 4090, as torch uses).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class HardwareClass(enum.Enum):
    HOPPER = "hopper"
    AMPERE = "ampere"
    ADA = "ada"
    BLACKWELL = "blackwell"


@dataclass(frozen=True, slots=True)
class GpuPart:
    """One row of the table below, written positionally as the datasheets read."""

    name: str  # e.g. "H100 SXM"
    hardware_class: HardwareClass
    pattern: str  # regex searched in torch.cuda.get_device_name()
    bf16: float  # dense peak TFLOP/s, bf16 and fp16 tensor cores
    tf32: float  # dense peak TFLOP/s, fp32 matmuls with TF32 allowed
    fp32: float  # peak TFLOP/s without tensor cores

    def peak(self, precision: str) -> float:
        """The dense peak in FLOP/s."""
        peaks = {"bf16": self.bf16, "fp16": self.bf16, "tf32": self.tf32, "fp32": self.fp32}
        if precision not in peaks:
            raise ValueError(f"precision {precision!r}: valid are bf16, fp16, tf32, fp32")
        return peaks[precision] * 1e12


# Searched in order: a more specific name (GH200, H100 PCIe) precedes one it contains.
PARTS: tuple[GpuPart, ...] = (
    # NVIDIA GH200 Grace Hopper Superchip datasheet: 1,979 TF bf16*, 989 TF tf32*, 67 TF fp32.
    GpuPart("GH200", HardwareClass.HOPPER, r"\bGH200\b", 989, 494.5, 67),
    # NVIDIA H200 Tensor Core GPU datasheet, H200 NVL column: 1,671 TF bf16*, 835 TF tf32*.
    GpuPart("H200 NVL", HardwareClass.HOPPER, r"\bH200 NVL\b", 835, 417.5, 60),
    # NVIDIA H200 Tensor Core GPU datasheet, H200 SXM column: the H100 SXM's figures.
    GpuPart("H200 SXM", HardwareClass.HOPPER, r"\bH200\b", 989, 494.5, 67),
    # NVIDIA H100 Tensor Core GPU datasheet, PCIe column: 1,513 TF bf16*, 756 TF tf32*, 51 fp32.
    GpuPart("H100 PCIe", HardwareClass.HOPPER, r"\bH100 PCIe\b", 756, 378, 51),
    # Same datasheet, H100 NVL column: 1,671 TF bf16*, 835 TF tf32*, 60 TF fp32.
    GpuPart("H100 NVL", HardwareClass.HOPPER, r"\bH100 NVL\b", 835, 417.5, 60),
    # Same datasheet, SXM column ("NVIDIA H100 80GB HBM3"): 1,979 TF bf16*, 989 TF tf32*.
    GpuPart("H100 SXM", HardwareClass.HOPPER, r"\bH100\b", 989, 494.5, 67),
    # NVIDIA A100 Tensor Core GPU datasheet (SXM and PCIe alike): 624 TF bf16*, 312 tf32*.
    GpuPart("A100", HardwareClass.AMPERE, r"\bA100\b", 312, 156, 19.5),
    # NVIDIA L40S datasheet: 733 TF bf16*, 366 TF tf32*, 91.6 TF fp32.
    GpuPart("L40S", HardwareClass.ADA, r"\bL40S\b", 362, 183, 91.6),
    # NVIDIA L4 datasheet: 242 TF bf16*, 120 TF tf32*, 30.3 TF fp32.
    GpuPart("L4", HardwareClass.ADA, r"\bL4\b", 121, 60, 30.3),
    # NVIDIA Ada Lovelace architecture whitepaper, GeForce RTX 4090: bf16 with fp32
    # accumulate 165.2 TF dense (330.4*), tf32 82.6 TF dense, fp32 82.6 TF.
    GpuPart("RTX 4090", HardwareClass.ADA, r"\bRTX 4090\b", 165.2, 82.6, 82.6),
    # NVIDIA HGX B200 datasheet, per GPU (an eighth of the 8-GPU figures): 4.5 PF bf16*,
    # 2.2 PF tf32*, 75 TF fp32.
    GpuPart("B200", HardwareClass.BLACKWELL, r"\bB200\b", 2250, 1125, 75),
)


def gpu_part(device_name: str) -> GpuPart | None:
    """The part `torch.cuda.get_device_name()` names, or None for a GPU not listed."""
    return next((part for part in PARTS if re.search(part.pattern, device_name)), None)


def hardware_class(device_name: str) -> HardwareClass | None:
    part = gpu_part(device_name)
    return None if part is None else part.hardware_class
