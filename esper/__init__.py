"""esper: morphogenetic seed slots for PyTorch host networks.

`esper.leyline` holds the contracts (stages, gates, telemetry, reports);
`esper.kasmina` holds the modules (isolation math, SeedSlot, hosts, blueprints).
"""

__version__ = "0.1.0"
