"""The cache check: torch's cache counters from fresh processes, the reasons behind a miss,
and what it says where it cannot run (another backend, a torch without mega-cache)."""

import logging
from dataclasses import replace

import pytest
import torch

from audits.catalog import catalog_target
from audits.checks import cache as cache_check
from audits.checks.cache import (
    FreshOutcome,
    check_cache,
    key_changes,
    key_parts,
    missed,
    unsaved_entries,
)
from audits.checks.common import CheckSettings
from audits.hazards import plain_custom_pass
from foundation.codec import from_jsonable, to_jsonable
from reporting.schema.audit import CheckStatus
from reporting.schema.cache import CacheCounts, CacheResult, CacheRun, CacheRunKind

INDUCTOR = CheckSettings(backend="inductor")
HAZARD = "hazard/plain_custom_pass"


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("torch._inductor.codecache", logging.DEBUG, "", 0, message, (), None)


def _run(kind: CacheRunKind, hits: int = 0, misses: int = 0, bypasses: int = 0) -> CacheRun:
    counts = CacheCounts(hits=hits, misses=misses, bypasses=bypasses)
    return CacheRun(kind=kind, compile_s=1.0, fx_graph=counts, autograd=counts)


def test_another_backend_is_skipped_with_the_reason():
    """The caches are inductor's: aot_eager is skipped, saying so, before any process starts."""
    result = check_cache(catalog_target("hazard", HAZARD), CheckSettings(backend="aot_eager"))
    assert result.status is CheckStatus.SKIPPED
    assert "inductor" in result.skipped_reason and "'aot_eager'" in result.skipped_reason


def test_a_target_that_cannot_be_rebuilt_elsewhere_is_skipped():
    """Without Target.reload no fresh interpreter can build the target: skipped, not faked."""
    result = check_cache(plain_custom_pass.clean_target(), INDUCTOR)
    assert result.status is CheckStatus.SKIPPED
    assert "Target.reload" in result.skipped_reason


def test_the_catalog_gives_each_target_a_way_back():
    """A catalog target's reload builds the same target again (by name, so it pickles)."""
    target = catalog_target("hazard", HAZARD)
    assert target.reload is not None
    assert target.reload().name == HAZARD


def test_key_parts_read_torchs_hash_details():
    """Each '[hash] component: value' line of torch's debug log becomes one key part."""
    records = [
        _record(
            "FX graph cache hash details for key fabc:\n"
            "[h1] gm: def forward()\n[h2] fx_kwargs[cpp_wrapper]: False"
        ),
        _record("Autograd graph cache hash details for key aabc:\n[h3] aot_config: x"),
        _record("fx graph cache miss for key fabc"),
    ]
    assert key_parts(records) == {
        ("fx graph", "gm"): ("h1", "def forward()"),
        ("fx graph", "fx_kwargs[cpp_wrapper]"): ("h2", "False"),
        ("autograd", "aot_config"): ("h3", "x"),
    }


def test_key_changes_name_the_parts_hashed_differently():
    """A warm miss is explained by the key parts whose hash changed, or that are new."""
    cold = {("fx graph", "gm"): ("h1", "a"), ("fx graph", "deterministic"): ("h2", "False")}
    warm = {
        ("fx graph", "gm"): ("h9", "b"),
        ("fx graph", "deterministic"): ("h2", "False"),
        ("autograd", "x"): ("h3", "c"),
    }
    changed = key_changes(cold, warm)
    assert [(c.cache, c.component, c.value) for c in changed] == [
        ("autograd", "x", "c"),
        ("fx graph", "gm", "b"),
    ]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [({"hits": 2}, False), ({"hits": 1, "misses": 1}, True), ({"bypasses": 1}, True)],
)
def test_a_later_run_missed_when_it_compiled_anything_itself(counts, expected):
    """Only all hits pass: one miss or one bypass after the cold run is the finding."""
    assert missed(_run(CacheRunKind.WARM, **counts)) is expected


def _cold(fx: CacheCounts, autograd: CacheCounts) -> CacheRun:
    return CacheRun(kind=CacheRunKind.COLD, compile_s=1.0, fx_graph=fx, autograd=autograd)


def test_entries_the_cold_run_did_not_save_are_explained():
    """Compiled but not saved, nothing bypassed: torch wrote no entry for the warm run to find,
    and the reason fits the report's 160 characters."""
    note = unsaved_entries(
        _cold(CacheCounts(misses=1), CacheCounts(misses=1, saved=0)),
    )
    assert note is not None and len(note) <= 160
    assert "saved 0 of 1" in note and "op-less graph" in note
    bypassed = unsaved_entries(
        _cold(CacheCounts(bypasses=2), CacheCounts(misses=1, saved=0)),
    )
    assert bypassed is not None and "FX graph cache bypassed 2" in bypassed


@pytest.mark.parametrize(
    "autograd",
    [
        CacheCounts(misses=2, saved=2),  # every entry saved
        CacheCounts(misses=1, bypasses=1, saved=0),  # torch logged why: its reason is kept
        CacheCounts(misses=1),  # a torch that does not count saves
    ],
)
def test_nothing_is_explained_where_the_counters_do_not_say(autograd):
    assert unsaved_entries(_cold(CacheCounts(misses=1), autograd)) is None


def test_a_warm_miss_of_an_unsaved_entry_carries_the_reason(monkeypatch):
    """The later runs that missed the AOTAutograd cache name what the cold run did not save."""
    monkeypatch.setattr(cache_check, "mega_cache_available", lambda: False)

    def fresh(job):
        if job.kind is CacheRunKind.COLD:
            run = _cold(CacheCounts(misses=1), CacheCounts(misses=1, saved=0))
        else:
            run = CacheRun(
                kind=job.kind,
                compile_s=1.0,
                fx_graph=CacheCounts(hits=1),
                autograd=CacheCounts(misses=1, saved=0),
            )
        return FreshOutcome(run=run, key_parts={})

    monkeypatch.setattr(cache_check, "_fresh", fresh)
    result = check_cache(catalog_target("hazard", HAZARD), INDUCTOR)
    assert result.status is CheckStatus.FAILED
    assert result.run(CacheRunKind.COLD).bypass_reasons == ()
    (reason,) = result.run(CacheRunKind.WARM).bypass_reasons
    assert reason.startswith("autograd: the cold run saved 0 of 1 entries")


def test_without_mega_cache_the_result_says_not_available(monkeypatch):
    """On a torch without save_cache_artifacts the round trip is 'not available in torch X'."""
    monkeypatch.setattr(cache_check, "mega_cache_available", lambda: False)
    ran = []

    def fresh(job):
        ran.append(job.kind)
        counts = {"misses": 2} if job.kind is CacheRunKind.COLD else {"hits": 2}
        return FreshOutcome(run=_run(job.kind, **counts), key_parts={})

    monkeypatch.setattr(cache_check, "_fresh", fresh)
    result = check_cache(catalog_target("hazard", HAZARD), INDUCTOR)
    assert ran == [CacheRunKind.COLD, CacheRunKind.WARM]
    assert result.status is CheckStatus.PASSED
    assert result.mega_cache_note == (
        f"torch.compiler.save_cache_artifacts is not available in torch {torch.__version__}"
    )
    assert result.warm_saved_s == 0.0 and result.mega_cache_saved_s is None


def test_a_process_that_died_fails_the_check(monkeypatch):
    """A fresh process that raised is recorded in its run and fails the check."""

    def fresh(job):
        run = CacheRun(kind=job.kind, compile_s=0.0, fx_graph=CacheCounts(), error="exited 1")
        return FreshOutcome(run=run, key_parts={})

    monkeypatch.setattr(cache_check, "_fresh", fresh)
    result = check_cache(catalog_target("hazard", HAZARD), INDUCTOR)
    assert result.status is CheckStatus.FAILED
    assert result.run(CacheRunKind.COLD).error == "exited 1"


def test_the_result_round_trips_through_the_codec():
    """A CacheResult written to report.json reads back equal."""
    result = CacheResult(
        status=CheckStatus.FAILED,
        runs=(_run(CacheRunKind.COLD, misses=2), _run(CacheRunKind.WARM, bypasses=1)),
        mega_cache_note="not available",
    )
    assert from_jsonable(CacheResult, to_jsonable(result)) == result


@pytest.mark.slow
@pytest.mark.expensive
def test_a_plain_function_pass_bypasses_both_caches_with_torchs_reason():
    """The hazard compiles from scratch in every process; torch's bypass reason is kept."""
    result = check_cache(catalog_target("hazard", HAZARD), INDUCTOR)
    assert result.status is CheckStatus.FAILED
    warm = result.run(CacheRunKind.WARM)
    assert warm.error is None and warm.fx_graph.hits == 0 and warm.fx_graph.bypasses > 0
    assert any("Unsupported post grad custom pass" in r for r in warm.bypass_reasons)


@pytest.mark.slow
@pytest.mark.expensive
def test_the_same_pass_with_a_uuid_hits_warm_and_from_mega_cache():
    """With a CustomGraphPass the warm and mega-cache processes find every graph cached."""
    clean = plain_custom_pass.clean_target()
    result = check_cache(replace(clean, reload=plain_custom_pass.clean_target), INDUCTOR)
    assert result.status is CheckStatus.PASSED, result
    cold, warm = result.run(CacheRunKind.COLD), result.run(CacheRunKind.WARM)
    assert cold.fx_graph.misses > 0 and cold.fx_graph.hits == 0
    assert warm.fx_graph.hits == cold.fx_graph.misses and warm.fx_graph.misses == 0
    assert warm.autograd is not None and warm.autograd.hits > 0
    mega = result.run(CacheRunKind.MEGA_CACHE)
    assert mega is not None and mega.fx_graph.hits > 0 and mega.load_s is not None
    assert result.warm_saved_s is not None and result.mega_cache_saved_s is not None


@pytest.mark.slow
@pytest.mark.expensive
def test_the_straight_through_estimator_misses_the_autograd_cache_because_of_torch():
    """ste_forward's backward hands its gradient to both inputs unchanged: a graph with no
    ops, which torch never gives an FX graph cache key, so it saves no AOTAutograd entry.
    The warm run hits the FX graph cache and misses the AOTAutograd one (README: "What
    torch.compile does with esper"); when torch saves such entries, this test says so."""
    result = check_cache(catalog_target("builtin", "isolation/ste_forward"), INDUCTOR)
    cold, warm = result.run(CacheRunKind.COLD), result.run(CacheRunKind.WARM)
    assert cold.autograd is not None and cold.autograd.misses == 1 and cold.autograd.saved == 0
    assert warm.fx_graph.hits == 1 and warm.fx_graph.misses == 0
    assert warm.autograd is not None and warm.autograd.misses == 1
    assert any("op-less graph" in r for r in warm.bypass_reasons)
    assert result.status is CheckStatus.FAILED and result.key_changes == ()
