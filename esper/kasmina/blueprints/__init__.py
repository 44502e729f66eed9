"""Seed architectures. Importing this package registers the built-in blueprints."""

from esper.kasmina.blueprints import cnn, transformer  # noqa: F401  (registration side effect)
from esper.kasmina.blueprints.registry import TOPOLOGIES, BlueprintRegistry, BlueprintSpec

BlueprintRegistry._freeze_builtins()

__all__ = ["TOPOLOGIES", "BlueprintRegistry", "BlueprintSpec"]
