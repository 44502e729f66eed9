"""The hazard suite: each wrong-on-purpose module is flagged by the right check, and the
clean esper targets are flagged by none."""

import pytest
from support.torch_release import GB_REGISTRY, item_breaks_fullgraph

from audits.audit import audit_target
from audits.builtin_targets import builtin_targets
from audits.catalog import CATALOGS, catalog_targets
from audits.checks.common import CheckSettings
from audits.hazards import hazard_targets
from reporting.schema.audit import CheckName, CheckStatus, TargetStatus

AOT = CheckSettings(backend="aot_eager")
HAZARDS = {t.name: t for t in hazard_targets()}
BUILTINS = {t.name: t for t in builtin_targets()}

EXPECTED = {
    "hazard/data_dependent_assert": {CheckName.EXCEPTIONS},
    "hazard/item_in_forward": {CheckName.BREAKS},
    "hazard/print_in_forward": {CheckName.FULLGRAPH, CheckName.BREAKS},
    "hazard/disabled_slot": {CheckName.FULLGRAPH, CheckName.BREAKS},
    "hazard/changing_attribute": {CheckName.RECOMPILES},
    "hazard/tensor_branch": {CheckName.FULLGRAPH, CheckName.BREAKS},
    "hazard/dict_building": {CheckName.RECOMPILES},
    "hazard/raise_under_fullgraph": {CheckName.EXCEPTIONS},
    "hazard/batch_loop": {CheckName.SHAPES},
    "hazard/data_dependent_branch": {CheckName.FULLGRAPH, CheckName.BREAKS, CheckName.EXPORT},
    "hazard/plain_custom_pass": {CheckName.CACHE},
    "hazard/mutated_input": {CheckName.CUDAGRAPHS},
}
# Checks that cannot run in this test's set-up (aot_eager on CPU): the cache check needs
# inductor (tests/audits/checks/test_cache.py runs it), cudagraphs a GPU (tests/cuda/).
SKIPPED_HERE = {CheckName.CACHE, CheckName.CUDAGRAPHS}


def test_every_promised_hazard_has_a_module():
    """One hazard module per hazard the audit promises to catch, each declaring its checks."""
    assert {name: set(t.expected_flags) for name, t in HAZARDS.items()} == EXPECTED


@pytest.mark.parametrize("catalog", CATALOGS)
def test_every_catalog_names_each_target_once(catalog):
    """A target listed twice is audited twice (a hazard's cache check is a minute each)."""
    names = [t.name for t in catalog_targets(catalog)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


# The fast loop keeps one hazard per check. The shapes sweep compiles a dozen sizes
# (tests/audits/checks/test_shapes.py keeps the shapes hazard there); the others repeat a
# check another hazard already trips, and disabled_slot and raise_under_fullgraph have
# their own tests below.
FAST_LOOP_LEAVES_OUT = {
    "hazard/batch_loop",
    "hazard/dict_building",
    "hazard/tensor_branch",
    "hazard/disabled_slot",
    "hazard/raise_under_fullgraph",
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n in FAST_LOOP_LEAVES_OUT else n
        for n in sorted(EXPECTED)
    ],
)
def test_hazard_is_flagged_by_its_check(name):
    """The hazard's expected checks fail on it (or say why they cannot run here), and
    nothing else does."""
    flagged = set(EXPECTED[name])
    if name == "hazard/item_in_forward" and item_breaks_fullgraph():
        flagged.add(CheckName.FULLGRAPH)  # this torch refuses .item() under fullgraph=True
    result = audit_target(HAZARDS[name], AOT)
    assert result.error is None, result.error.traceback
    assert set(result.flagged) == flagged - SKIPPED_HERE
    for check in flagged & SKIPPED_HERE:
        assert result.check(check).status is CheckStatus.SKIPPED
        assert result.check(check).skipped_reason
    assert result.status is TargetStatus.PASSED  # passed = detected, for a hazard


def test_disabled_slot_points_at_the_slot_call_in_the_host():
    """The compiler.disable hazard names GB0099's rule and the host line calling the slot."""
    result = audit_target(HAZARDS["hazard/disabled_slot"], AOT)
    info = result.fullgraph.graph_break
    if GB_REGISTRY:
        assert "torch.compiler.disable" in info.gb_type
    else:  # torch's wording: the disable wrapper (_fn) is skipped, named with the slot
        assert "inline in skipfiles: DisabledSlot.forward | _fn " in info.gb_type
    assert info.location.file.endswith("disabled_slot.py")
    assert "self.slot(" in info.location.code


def test_raise_under_fullgraph_reports_what_compiled_raised():
    """Eager raises ValueError; the compiled type and torch's break type are recorded as seen."""
    case = audit_target(HAZARDS["hazard/raise_under_fullgraph"], AOT).exceptions.cases[0]
    assert case.eager_type == "ValueError"
    assert case.compiled_type != "ValueError"
    assert case.graph_break is not None and case.graph_break.location is not None


CLEAN_SAMPLE = (
    "isolation/ste_forward",
    "isolation/blend_tensor_alpha",
    "blueprint/cnn/conv_light",
    "blueprint/transformer/lora",
    pytest.param("stage/cnn/training", marks=pytest.mark.slow),
    pytest.param("stage/transformer/blending-0.3", marks=pytest.mark.slow),
)


@pytest.mark.parametrize("name", CLEAN_SAMPLE)
def test_clean_esper_target_raises_no_false_alarm(name):
    """esper's modules pass every check (a sample here; `make audit` runs them all)."""
    result = audit_target(BUILTINS[name], AOT)
    assert result.error is None, result.error.traceback
    assert result.flagged == ()
    assert result.status is TargetStatus.PASSED


@pytest.mark.slow
def test_lifecycle_compiles_once_per_stage_and_never_during_the_alpha_ramp():
    """The lifecycle scenario: each stage change compiles at most once, alpha steps never."""
    result = audit_target(BUILTINS["lifecycle/transformer"], CheckSettings(backend="eager"))
    assert result.flagged == (), result.error
    recompiles = result.recompiles
    ramp = [s for s in recompiles.steps if s.step.startswith("alpha step")]
    assert len(ramp) == 20 and all(s.compiles == 0 for s in ramp)
    assert all(s.compiles <= 1 for s in recompiles.steps)
    assert recompiles.status is CheckStatus.PASSED


@pytest.mark.slow
def test_guard_comparison_measures_both_paths_of_both_guards():
    """Each guard variant reports its normal path and its error path as torch ran them."""
    guards = [t for name, t in BUILTINS.items() if name.startswith("guard/")]
    assert {t.name for t in guards} == {
        "guard/valueerror/torch.compile",
        "guard/valueerror/compile_with_validation",
        "guard/assert/torch.compile",
        "guard/assert/compile_with_validation",
    }
    for target in guards:
        result = audit_target(target, CheckSettings(backend="eager"))
        assert result.informational
        assert result.fullgraph is not None and result.parity is not None
        case = result.exceptions.cases[0]
        assert case.eager_type == ("AssertionError" if "/assert/" in target.name else "ValueError")
        assert case.compiled_type is not None  # whatever torch raised, it was recorded
        if target.name.endswith("compile_with_validation"):
            assert case.type_matches and case.message_matches


def test_modules_with_a_meaningful_assert_are_not_rewritten_by_pytest():
    """esper's pytest plugin makes pytest rewrite its distribution's asserts; the assert
    hazard and the assert guard opt out, or a rewritten assert would break the graph."""
    import audits.guard_targets
    import audits.hazards.data_dependent_assert as assert_hazard

    for module in (assert_hazard, audits.guard_targets):
        assert "@py_builtins" not in vars(module), module.__name__
