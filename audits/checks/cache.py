"""Cache: does a second process compile the target from torch's caches?

A warm start (a restarted job, a second worker, a deploy) should not compile from
scratch: inductor keeps compiled graphs in its FX graph cache and AOTAutograd keeps
the joint forward/backward in its own, both on disk under TORCHINDUCTOR_CACHE_DIR.
This check compiles the target three times, each in a new interpreter (a `python
-c` subprocess, not a fork, so that nothing computed at import time is shared):

- cold: an empty cache directory; torch fills it;
- warm: the same directory; every lookup should hit;
- mega-cache: another empty directory, primed with what
  `torch.compiler.save_cache_artifacts` returned after the cold compile
  (`load_cache_artifacts`), the way a fleet ships one machine's compiles.

Each run reports torch's own counters (`counters["inductor"]["fxgraph_cache_*"]`
and, from the release that moved them, `counters["aot_autograd"]["autograd_cache_*"]`)
and the wall time of the compiling call. A miss or a bypass after the cold run is
the finding. torch explains a bypass in its logs ("Bypassing FX Graph Cache because
..."); a plain miss it does not explain, so the parts of each cache key it hashed
(logged at debug level) are compared between the cold and the warm process, and the
parts that changed are reported.

Inductor only: another backend has no such caches.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch

from audits.checks.common import CheckSettings, backpropagate, prepare_module, target_inputs
from audits.checks.torch_logs import captured_logs, messages
from audits.targets import Target
from audits.torch_compat import mega_cache_available
from reporting.schema.basics import CheckStatus, not_available
from reporting.schema.cache import CacheCounts, CacheResult, CacheRun, CacheRunKind, KeyChange
from reporting.schema.vocabulary import Task

# A spawned interpreter imports torch and compiles from nothing: minutes on a busy
# 2-core machine. The runner's --timeout still bounds the whole target.
PROCESS_TIMEOUT_S = 900.0
_FX_LOGGER = "torch._inductor.codecache"
_AUTOGRAD_LOGGER = "torch._functorch._aot_autograd.autograd_cache"
# What the two loggers say, in torch 2.5 to 2.13.
_FX_BYPASS = "Bypassing FX Graph Cache because "
_AUTOGRAD_BYPASS = "Bypassing autograd cache due to: "
_KEY_DETAILS = {
    "fx graph": "FX graph cache hash details for key ",
    "autograd": "Autograd graph cache hash details for key ",
}
_KEY_LINE = re.compile(r"^\[(?P<hash>[^\]]+)\] (?P<component>[^:]+): (?P<value>.*)$")
_VALUE_CHARS = 160


# ----------------------------------------------------------------- in the fresh process
@dataclass(frozen=True, slots=True, kw_only=True)
class FreshCompile:
    """What one fresh process does; it travels there by pickle."""

    kind: CacheRunKind
    reload: Callable[[], Target]
    settings: CheckSettings
    threads: int
    cache_dir: str
    artifacts: str | None = None  # the cold run writes the mega-cache here; mega-cache reads it


@dataclass(frozen=True, slots=True, kw_only=True)
class FreshOutcome:
    run: CacheRun
    # (cache, component) -> (hash, value) for every key torch hashed in the process
    key_parts: dict[tuple[str, str], tuple[str, str]]


def _counts(found: Any, prefix: str, *, counts_saves: bool = False) -> CacheCounts:
    return CacheCounts(
        hits=int(found.get(f"{prefix}_hit", 0)),
        misses=int(found.get(f"{prefix}_miss", 0)),
        bypasses=int(found.get(f"{prefix}_bypass", 0)),
        saved=int(found.get(f"{prefix}_saved", 0)) if counts_saves else None,
    )


def key_parts(records: list[Any]) -> dict[tuple[str, str], tuple[str, str]]:
    """The parts of every cache key torch logged, by cache and component."""
    parts: dict[tuple[str, str], tuple[str, str]] = {}
    for cache, prefix in _KEY_DETAILS.items():
        for text in messages(records, prefix):
            for line in text.splitlines()[1:]:
                found = _KEY_LINE.match(line.strip())
                if found is not None:
                    value = found["value"]
                    if len(value) > _VALUE_CHARS:
                        value = value[: _VALUE_CHARS - 3] + "..."
                    parts[(cache, found["component"])] = (found["hash"], value)
    return parts


def compile_fresh(job: FreshCompile) -> FreshOutcome:
    """Compile and call the target once in this (new) process, against `job.cache_dir`."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = job.cache_dir  # read by inductor at each lookup
    torch.set_num_threads(job.threads)
    from torch._dynamo.utils import counters
    from torch._functorch import config

    target = job.reload()
    load_s = None
    if job.kind is CacheRunKind.MEGA_CACHE:
        assert job.artifacts is not None
        start = time.perf_counter()
        torch.compiler.load_cache_artifacts(Path(job.artifacts).read_bytes())
        load_s = time.perf_counter() - start
    counters.clear()
    module = prepare_module(target, job.settings)
    inputs = target_inputs(target, job.settings)
    with captured_logs(_FX_LOGGER, _AUTOGRAD_LOGGER) as records:
        compiled = target.compile(module, backend=job.settings.backend, fullgraph=False)
        start = time.perf_counter()
        out = compiled(*inputs)
        if target.modes[0] is Task.TRAIN:
            backpropagate(out)
        compile_s = time.perf_counter() - start
    # torch 2.5 counts the AOTAutograd cache under "inductor", later ones under "aot_autograd".
    autograd_counters = {**counters["inductor"], **counters["aot_autograd"]}
    reasons = [
        f"{cache}: {text.removeprefix(prefix).strip(chr(39))}"
        for cache, prefix in (("fx graph", _FX_BYPASS), ("autograd", _AUTOGRAD_BYPASS))
        for text in messages(records, prefix)
    ]
    artifacts_bytes = None
    if job.kind is CacheRunKind.COLD and job.artifacts is not None:
        saved = torch.compiler.save_cache_artifacts()
        if saved is not None:
            Path(job.artifacts).write_bytes(saved[0])
            artifacts_bytes = len(saved[0])
    autograd = _counts(autograd_counters, "autograd_cache", counts_saves=True)
    run = CacheRun(
        kind=job.kind,
        compile_s=compile_s,
        fx_graph=_counts(counters["inductor"], "fxgraph_cache"),
        # AOTAutograd's cache: absent before 2.4, off by default before 2.6
        autograd=autograd if getattr(config, "enable_autograd_cache", False) else None,
        bypass_reasons=tuple(dict.fromkeys(reasons)),
        load_s=load_s,
        artifacts_bytes=artifacts_bytes,
    )
    return FreshOutcome(run=run, key_parts=key_parts(records))


def main_in_fresh_process() -> None:
    """`python -c` entry: argv[1] holds the pickled FreshCompile, argv[2] gets the outcome."""
    job = pickle.loads(Path(sys.argv[1]).read_bytes())
    Path(sys.argv[2]).write_bytes(pickle.dumps(compile_fresh(job)))


# ----------------------------------------------------------------- in the audit's process
_ENTRY = "from audits.checks.cache import main_in_fresh_process as main; main()"
_STDERR_CHARS = 2000


def _fresh(job: FreshCompile) -> FreshOutcome:
    """`compile_fresh(job)` in a new interpreter (not multiprocessing's spawn, which would
    run the caller's __main__ again), importing what this one imports."""
    with tempfile.TemporaryDirectory(prefix="esper-fresh-") as tmp:
        sent, received = Path(tmp, "job.pickle"), Path(tmp, "outcome.pickle")
        sent.write_bytes(pickle.dumps(job))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            done = subprocess.run(
                [sys.executable, "-c", _ENTRY, str(sent), str(received)],
                env=env,
                capture_output=True,
                text=True,
                timeout=PROCESS_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _failed(job, f"still running after {PROCESS_TIMEOUT_S:g} s")
        if done.returncode != 0 or not received.is_file():
            tail = done.stderr.strip()[-_STDERR_CHARS:]
            return _failed(job, f"the {job.kind.value} process exited {done.returncode}: {tail}")
        outcome = pickle.loads(received.read_bytes())
    assert isinstance(outcome, FreshOutcome)
    return outcome


def _failed(job: FreshCompile, error: str) -> FreshOutcome:
    run = CacheRun(kind=job.kind, compile_s=0.0, fx_graph=CacheCounts(), error=error)
    return FreshOutcome(run=run, key_parts={})


def missed(run: CacheRun) -> bool:
    """Whether a run after the cold one compiled anything itself."""
    counts = [run.fx_graph] + ([run.autograd] if run.autograd is not None else [])
    return run.error is not None or any(c.misses or c.bypasses for c in counts)


def unsaved_entries(cold: CacheRun) -> str | None:
    """Why a later process misses AOTAutograd entries whose key did not change, where the
    cold process's counters say: it compiled them but saved fewer, bypassing none.

    torch logs nothing then. It saves an entry only when each graph in it (the forward
    and, in training, the backward) carries an FX graph cache key (`_should_save_cache`
    in torch/_functorch/_aot_autograd/graph_compile.py, torch 2.13). A graph the FX
    graph cache bypassed has none; nor has a graph without a single op, which inductor
    returns uncompiled (`compile_fx_inner`): the backward of `a + b`, or of a
    straight-through estimator, hands its gradient back unchanged.
    """
    counts = cold.autograd
    if counts is None or counts.saved is None or counts.bypasses or counts.saved >= counts.misses:
        return None
    because = (
        f"the FX graph cache bypassed {cold.fx_graph.bypasses} graph(s)"
        if cold.fx_graph.bypasses
        else "an op-less graph (pass-through backward) has none"
    )
    # The report shows 160 characters of a reason.
    return (
        f"autograd: the cold run saved {counts.saved} of {counts.misses} entries; torch "
        f"saves one only if each graph has an FX graph cache key: {because}"
    )


def _explained(run: CacheRun, note: str | None) -> CacheRun:
    if note is None or run.autograd is None or not run.autograd.misses:
        return run
    return replace(run, bypass_reasons=(*run.bypass_reasons, note))


def key_changes(
    cold: dict[tuple[str, str], tuple[str, str]], later: dict[tuple[str, str], tuple[str, str]]
) -> tuple[KeyChange, ...]:
    """Key parts the later process hashed differently, or that the cold one never had."""
    changes = []
    for (cache, component), (digest, value) in sorted(later.items()):
        before = cold.get((cache, component))
        if before is None or before[0] != digest:
            changes.append(KeyChange(cache=cache, component=component, value=value))
    return tuple(changes)


def skipped(reason: str) -> CacheResult:
    return CacheResult(status=CheckStatus.SKIPPED, skipped_reason=reason)


def check_cache(target: Target, settings: CheckSettings) -> CacheResult:
    """Compile the target cold, warm and from mega-cache artifacts, each in a fresh process."""
    if settings.backend != "inductor":
        return skipped(
            f"the FX graph and AOTAutograd caches are inductor's; backend {settings.backend!r}"
        )
    if target.reload is None:
        return skipped("the target cannot be rebuilt in a new interpreter (Target.reload is None)")
    mega = mega_cache_available()
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="esper-cache-") as tmp:
        shared = str(Path(tmp, "shared"))
        artifacts = str(Path(tmp, "artifacts.bin")) if mega else None

        fresh = partial(FreshCompile, reload=target.reload, settings=settings, threads=threads)

        def run(kind: CacheRunKind, cache_dir: str) -> FreshOutcome:
            return _fresh(fresh(kind=kind, cache_dir=cache_dir, artifacts=artifacts))

        cold = run(CacheRunKind.COLD, shared)
        outcomes = [cold, run(CacheRunKind.WARM, shared)]
        note = None
        if not mega:
            note = not_available("torch.compiler.save_cache_artifacts", torch.__version__)
        elif cold.run.error is None and cold.run.artifacts_bytes is None:
            note = "save_cache_artifacts had nothing to save: every cache lookup was bypassed"
        elif cold.run.error is None:
            outcomes.append(run(CacheRunKind.MEGA_CACHE, str(Path(tmp, "mega"))))
    unsaved = unsaved_entries(cold.run)
    runs = (cold.run, *(_explained(o.run, unsaved) for o in outcomes[1:]))
    changes = tuple(
        dict.fromkeys(
            change
            for later in outcomes[1:]
            if missed(later.run)
            for change in key_changes(cold.key_parts, later.key_parts)
        )
    )
    failed = cold.run.error is not None or any(missed(o.run) for o in outcomes[1:])
    return CacheResult(
        status=CheckStatus.FAILED if failed else CheckStatus.PASSED,
        mode=target.modes[0],
        runs=runs,
        key_changes=changes,
        mega_cache_note=note,
    )
