"""Typed results of the cache check: does a second process compile from torch's caches?"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from reporting.schema.basics import CheckStatus
from reporting.schema.vocabulary import Task


class CacheRunKind(str, Enum):
    COLD = "cold"  # a fresh process and an empty cache directory
    WARM = "warm"  # a fresh process on the directory the cold run filled
    MEGA_CACHE = "mega-cache"  # a fresh process, an empty directory, the cold run's artifacts


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheCounts:
    """One cache's lookups during a run, as torch counted them."""

    hits: int = 0
    misses: int = 0
    bypasses: int = 0  # lookups torch refused to make: nothing was cached either
    # Entries written (AOTAutograd counts them; None for the FX graph cache, which does not).
    # AOTAutograd saves an entry only when every graph in it has an FX graph cache key.
    saved: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheRun:
    """One compile of the target in a fresh process."""

    kind: CacheRunKind
    compile_s: float  # the compiling call: forward, and backward in train mode; wall time
    fx_graph: CacheCounts  # inductor's FX graph cache
    autograd: CacheCounts | None = None  # AOTAutograd's cache; None where torch has it off
    # Why torch bypassed a cache, as it logs it: "fx graph: Unsupported post grad custom pass".
    bypass_reasons: tuple[str, ...] = ()
    load_s: float | None = None  # mega-cache: torch.compiler.load_cache_artifacts
    artifacts_bytes: int | None = None  # cold: what save_cache_artifacts returned
    error: str | None = None  # what the process raised or why it died; nothing measured then


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange:
    """A part of a cache key that differed between the cold and the warm process."""

    cache: str  # "fx graph" or "autograd"
    component: str  # torch's name for the part, e.g. "fx_kwargs[cpp_wrapper]" or "gm"
    value: str  # the warm process's value, shortened; the cold one hashed differently


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheResult:
    status: CheckStatus  # failed: a warm (or mega-cache) run missed or bypassed a cache
    skipped_reason: str | None = None
    mode: Task | None = None  # the mode compiled: the target's first
    runs: tuple[CacheRun, ...] = ()  # cold, warm, then mega-cache when torch has it
    key_changes: tuple[KeyChange, ...] = ()  # why a warm lookup missed, where a key says
    # Why there is no mega-cache run: "not available in torch X", or what it raised.
    mega_cache_note: str | None = None

    def run(self, kind: CacheRunKind) -> CacheRun | None:
        return next((r for r in self.runs if r.kind is kind), None)

    @property
    def warm_saved_s(self) -> float | None:
        """Cold compile time less warm compile time."""
        cold, warm = self.run(CacheRunKind.COLD), self.run(CacheRunKind.WARM)
        if cold is None or warm is None or cold.error or warm.error:
            return None
        return cold.compile_s - warm.compile_s

    @property
    def mega_cache_saved_s(self) -> float | None:
        """Cold compile time less the mega-cache run's load and compile time."""
        cold, mega = self.run(CacheRunKind.COLD), self.run(CacheRunKind.MEGA_CACHE)
        if cold is None or mega is None or cold.error or mega.error:
            return None
        return cold.compile_s - (mega.compile_s + (mega.load_s or 0.0))
