"""The modules: gradient isolation, SeedSlot, hosts and seed blueprints."""

from esper.kasmina.blueprints import BlueprintRegistry
from esper.kasmina.compile import compile_with_validation
from esper.kasmina.errors import SeedShapeError, SlotOccupiedError
from esper.kasmina.host import CNNHost, MorphogeneticModel, TransformerHost
from esper.kasmina.isolation import (
    AlphaSchedule,
    GradientIsolationMonitor,
    blend_with_isolation,
    ste_forward,
)
from esper.kasmina.protocol import HostProtocol
from esper.kasmina.slot import QualityGates, SeedSlot, SeedState

__all__ = [
    "AlphaSchedule",
    "BlueprintRegistry",
    "CNNHost",
    "GradientIsolationMonitor",
    "HostProtocol",
    "MorphogeneticModel",
    "QualityGates",
    "SeedShapeError",
    "SeedSlot",
    "SeedState",
    "SlotOccupiedError",
    "TransformerHost",
    "blend_with_isolation",
    "compile_with_validation",
    "ste_forward",
]
