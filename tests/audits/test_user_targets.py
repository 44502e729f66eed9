"""--target package.module:factory, in both forms: an audits Target or (module, example_inputs)."""

import textwrap

import pytest

from audits.audit import audit_target
from audits.checks.common import CheckSettings
from audits.targets import Target
from audits.user_targets import TargetSpecError, build_user_target, resolve_factory
from reporting.schema.audit import TargetStatus

FACTORIES = """
import torch
from torch import nn

from audits.targets import BadInput, Target


class Checked(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x):
        return self.proj(x)


def pair():
    return Checked(), (torch.randn(2, 4),)


def single_tensor_pair():
    return Checked(), torch.randn(2, 4)


def full():
    return Target(
        name="my-target",
        build=Checked,
        make_inputs=lambda: (torch.randn(2, 4),),
        bad_inputs=(
            BadInput(name="wide", make_inputs=lambda: (torch.randn(2, 5),), raises=RuntimeError),
        ),
        recompile_budget=2,
    )


def wrong():
    return "not a target"


NOT_CALLABLE = 3
"""


@pytest.fixture
def factories(tmp_path, monkeypatch):
    (tmp_path / "user_factories_for_audit.py").write_text(textwrap.dedent(FACTORIES))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "user_factories_for_audit"


def test_pair_form_becomes_a_target_named_by_its_spec(factories):
    """(module, inputs) from a factory that never imports audits is audited as is."""
    target = build_user_target(f"{factories}:pair")
    assert isinstance(target, Target)
    assert target.name == f"{factories}:pair"
    result = audit_target(target, CheckSettings(backend="eager"))
    assert result.status is TargetStatus.PASSED, result.error
    assert build_user_target(f"{factories}:single_tensor_pair").fresh_inputs()[0].shape == (2, 4)


def test_pair_form_gives_each_check_a_fresh_copy(factories):
    """Every build() of a pair target is a new module with the factory's initial weights."""
    target = build_user_target(f"{factories}:pair")
    first, second = target.build(), target.build()
    assert first is not second
    assert first.proj.weight.equal(second.proj.weight)


def test_target_form_keeps_its_settings(factories):
    """A factory returning a Target keeps its bad inputs and budget; the spec names it."""
    target = build_user_target(f"{factories}:full")
    assert target.name == f"{factories}:full"
    assert target.description == "my-target"
    assert target.recompile_budget == 2
    assert target.bad_inputs[0].name == "wide"


def test_a_factory_returning_something_else_is_refused(factories):
    """Neither a Target nor a pair: TypeError naming both accepted forms."""
    with pytest.raises(TypeError, match="Target or a .module, example_inputs. pair"):
        build_user_target(f"{factories}:wrong")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-colon", "expected package.module:factory"),
        ("no_such_module_for_audit:f", "cannot import 'no_such_module_for_audit'"),
        ("user_factories_for_audit:missing", r"has no 'missing'; callables there: \[.*'pair'"),
        ("user_factories_for_audit:NOT_CALLABLE", "not callable"),
    ],
)
def test_bad_specs_say_what_is_valid(factories, spec, message):
    """Each unusable --target raises TargetSpecError with a one-line explanation."""
    with pytest.raises(TargetSpecError, match=message):
        resolve_factory(spec)
