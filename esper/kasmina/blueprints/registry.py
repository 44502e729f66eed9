"""BlueprintRegistry: the catalogue of seed architectures, per host topology."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch.nn as nn

TOPOLOGIES: tuple[str, ...] = ("cnn", "transformer")

SeedFactory = Callable[..., nn.Module]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlueprintSpec:
    """How to build one kind of seed. `factory(dim, **kwargs)` returns the module."""

    name: str
    topology: str
    factory: SeedFactory
    param_estimate: int = 0  # rough parameter count at the dim it was estimated for
    description: str = ""

    def create(self, dim: int, **kwargs: Any) -> nn.Module:
        return self.factory(dim, **kwargs)

    def actual_param_count(self, dim: int, **kwargs: Any) -> int:
        """Parameters of the seed built for `dim` features (builds one to count)."""
        return sum(p.numel() for p in self.create(dim, **kwargs).parameters())


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _check_topology(topology: str) -> None:
    if topology not in TOPOLOGIES:
        raise ValueError(f"unknown topology {topology!r}; known topologies: {list(TOPOLOGIES)}")


class BlueprintRegistry:
    """Class-level registry: `@BlueprintRegistry.register("name", "cnn", 1000)` adds a seed."""

    _specs: ClassVar[dict[tuple[str, str], BlueprintSpec]] = {}
    _builtin: ClassVar[dict[tuple[str, str], BlueprintSpec]] = {}

    @classmethod
    def register(
        cls,
        name: str,
        topology: str,
        param_estimate: int = 0,
        description: str = "",
        *,
        replace: bool = False,
    ) -> Callable[[SeedFactory], SeedFactory]:
        """Decorator registering a seed factory (a class or function taking `dim`).

        `param_estimate` orders `list_for_topology`, cheapest first.
        """
        _check_topology(topology)
        if not name or not isinstance(name, str):
            raise ValueError(f"blueprint name must be a non-empty string, got {name!r}")
        if isinstance(param_estimate, bool) or not isinstance(param_estimate, int):
            raise ValueError(f"param_estimate must be an int, got {param_estimate!r}")
        if param_estimate < 0:
            raise ValueError(f"param_estimate must be >= 0, got {param_estimate!r}")

        def decorator(factory: SeedFactory) -> SeedFactory:
            key = (topology, name)
            if key in cls._specs and not replace:
                raise ValueError(
                    f"blueprint {name!r} is already registered for topology {topology!r}; "
                    "pass replace=True to override it"
                )
            summary = description or _first_line(factory.__doc__)
            cls._specs[key] = BlueprintSpec(
                name=name,
                topology=topology,
                factory=factory,
                param_estimate=param_estimate,
                description=summary,
            )
            return factory

        return decorator

    @classmethod
    def get(cls, topology: str, name: str) -> BlueprintSpec:
        _check_topology(topology)
        try:
            return cls._specs[(topology, name)]
        except KeyError:
            known = [spec.name for spec in cls.list_for_topology(topology)]
            raise ValueError(
                f"unknown blueprint {name!r} for topology {topology!r}; known: {known}"
            ) from None

    @classmethod
    def create(cls, topology: str, name: str, dim: int, **kwargs: Any) -> nn.Module:
        """Build a seed of `dim` features. Every built-in seed keeps the feature shape."""
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        return cls.get(topology, name).create(dim, **kwargs)

    @classmethod
    def list_for_topology(cls, topology: str) -> list[BlueprintSpec]:
        """The topology's blueprints, by ascending param_estimate (then name)."""
        _check_topology(topology)
        return sorted(
            (spec for (topo, _), spec in cls._specs.items() if topo == topology),
            key=lambda spec: (spec.param_estimate, spec.name),
        )

    @classmethod
    def unregister(cls, topology: str, name: str) -> None:
        cls.get(topology, name)  # raises the helpful error for unknown names
        del cls._specs[(topology, name)]

    @classmethod
    def reset(cls) -> None:
        """Drop user registrations and restore the built-in blueprints."""
        cls._specs.clear()
        cls._specs.update(cls._builtin)

    @classmethod
    def _freeze_builtins(cls) -> None:
        cls._builtin = dict(cls._specs)
