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


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuPart:
    name: str  # e.g. "H100 SXM"
    hardware_class: HardwareClass
    pattern: str  # regex searched in torch.cuda.get_device_name()
    bf16: float  # dense peak FLOP/s, bf16 and fp16 tensor cores
    tf32: float  # dense peak, fp32 matmuls with TF32 allowed
    fp32: float  # peak without tensor cores

    def peak(self, precision: str) -> float:
        if precision in ("bf16", "fp16"):
            return self.bf16
        if precision == "tf32":
            return self.tf32
        if precision == "fp32":
            return self.fp32
        raise ValueError(f"precision {precision!r}: valid are bf16, fp16, tf32, fp32")


T = 1e12
# Searched in order: a more specific name (GH200, H100 PCIe) precedes one it contains.
PARTS: tuple[GpuPart, ...] = (
    # NVIDIA GH200 Grace Hopper Superchip datasheet: 1,979 TF bf16*, 989 TF tf32*, 67 TF fp32.
    GpuPart(
        name="GH200",
        hardware_class=HardwareClass.HOPPER,
        pattern=r"\bGH200\b",
        bf16=989 * T,
        tf32=494.5 * T,
        fp32=67 * T,
    ),
    # NVIDIA H200 Tensor Core GPU datasheet, H200 NVL column: 1,671 TF bf16*, 835 TF tf32*.
    GpuPart(
        name="H200 NVL",
        hardware_class=HardwareClass.HOPPER,
        pattern=r"\bH200 NVL\b",
        bf16=835 * T,
        tf32=417.5 * T,
        fp32=60 * T,
    ),
    # NVIDIA H200 Tensor Core GPU datasheet, H200 SXM column: the H100 SXM's figures.
    GpuPart(
        name="H200 SXM",
        hardware_class=HardwareClass.HOPPER,
        pattern=r"\bH200\b",
        bf16=989 * T,
        tf32=494.5 * T,
        fp32=67 * T,
    ),
    # NVIDIA H100 Tensor Core GPU datasheet, PCIe column: 1,513 TF bf16*, 756 TF tf32*, 51 fp32.
    GpuPart(
        name="H100 PCIe",
        hardware_class=HardwareClass.HOPPER,
        pattern=r"\bH100 PCIe\b",
        bf16=756 * T,
        tf32=378 * T,
        fp32=51 * T,
    ),
    # Same datasheet, H100 NVL column: 1,671 TF bf16*, 835 TF tf32*, 60 TF fp32.
    GpuPart(
        name="H100 NVL",
        hardware_class=HardwareClass.HOPPER,
        pattern=r"\bH100 NVL\b",
        bf16=835 * T,
        tf32=417.5 * T,
        fp32=60 * T,
    ),
    # Same datasheet, SXM column ("NVIDIA H100 80GB HBM3"): 1,979 TF bf16*, 989 TF tf32*.
    GpuPart(
        name="H100 SXM",
        hardware_class=HardwareClass.HOPPER,
        pattern=r"\bH100\b",
        bf16=989 * T,
        tf32=494.5 * T,
        fp32=67 * T,
    ),
    # NVIDIA A100 Tensor Core GPU datasheet (SXM and PCIe alike): 624 TF bf16*, 312 tf32*.
    GpuPart(
        name="A100",
        hardware_class=HardwareClass.AMPERE,
        pattern=r"\bA100\b",
        bf16=312 * T,
        tf32=156 * T,
        fp32=19.5 * T,
    ),
    # NVIDIA L40S datasheet: 733 TF bf16*, 366 TF tf32*, 91.6 TF fp32.
    GpuPart(
        name="L40S",
        hardware_class=HardwareClass.ADA,
        pattern=r"\bL40S\b",
        bf16=362 * T,
        tf32=183 * T,
        fp32=91.6 * T,
    ),
    # NVIDIA L4 datasheet: 242 TF bf16*, 120 TF tf32*, 30.3 TF fp32.
    GpuPart(
        name="L4",
        hardware_class=HardwareClass.ADA,
        pattern=r"\bL4\b",
        bf16=121 * T,
        tf32=60 * T,
        fp32=30.3 * T,
    ),
    # NVIDIA Ada Lovelace architecture whitepaper, GeForce RTX 4090: bf16 with fp32
    # accumulate 165.2 TF dense (330.4*), tf32 82.6 TF dense, fp32 82.6 TF.
    GpuPart(
        name="RTX 4090",
        hardware_class=HardwareClass.ADA,
        pattern=r"\bRTX 4090\b",
        bf16=165.2 * T,
        tf32=82.6 * T,
        fp32=82.6 * T,
    ),
    # NVIDIA HGX B200 datasheet, per GPU (an eighth of the 8-GPU figures): 4.5 PF bf16*,
    # 2.2 PF tf32*, 75 TF fp32.
    GpuPart(
        name="B200",
        hardware_class=HardwareClass.BLACKWELL,
        pattern=r"\bB200\b",
        bf16=2250 * T,
        tf32=1125 * T,
        fp32=75 * T,
    ),
)


def gpu_part(device_name: str) -> GpuPart | None:
    """The part `torch.cuda.get_device_name()` names, or None for a GPU not listed."""
    for part in PARTS:
        if re.search(part.pattern, device_name):
            return part
    return None


def hardware_class(device_name: str) -> HardwareClass | None:
    part = gpu_part(device_name)
    return None if part is None else part.hardware_class
