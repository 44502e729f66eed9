"""The export check on tiny modules: non-strict and strict export, draft_export's report
with user lines, exported program against eager, and the Python flags an export bakes in."""

import pytest
import torch
from torch import nn

from audits.checks import export as export_check
from audits.checks.common import CheckSettings
from audits.checks.export import captured_flags, check_export
from audits.hazards import data_dependent_branch
from audits.targets import Target, target_from_pair
from reporting.schema.audit import CheckStatus
from reporting.schema.export import DraftIssueKind
from reporting.schema.vocabulary import Task

EAGER = CheckSettings(backend="eager")
WIDTH = 4


class Clean(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.proj(x))


class ValueBranch(Clean):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        if y.sum() > 0:  # VALUE_BRANCH
            return y
        return -y


class Flagged(Clean):
    def __init__(self, scaled: bool) -> None:
        super().__init__()
        self.scaled = scaled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        if self.scaled:  # FLAG_LINE
            return y * 2.0
        return y


def pair_target(module: nn.Module, *inputs: torch.Tensor) -> Target:
    return target_from_pair("t", (module, inputs))


def test_clean_module_exports_both_ways_and_matches_eager():
    """Non-strict and strict export succeed and the program's output equals eager's."""
    result = check_export(pair_target(Clean(), torch.rand(3, WIDTH)), EAGER)
    assert result.status is CheckStatus.PASSED
    assert [a.strict for a in result.attempts] == [False, True]
    for attempt in result.attempts:
        assert attempt.exported and attempt.parity.passed and attempt.parity.max_abs < 1e-6
    assert result.draft_issues == () and result.draft_note is None


def test_data_dependent_branch_fails_with_draft_exports_user_line():
    """A branch on a value fails export both ways; draft_export names the guard and the line."""
    result = check_export(pair_target(ValueBranch(), torch.rand(3, WIDTH)), EAGER)
    assert result.status is CheckStatus.FAILED
    non_strict, strict = result.attempts
    assert not non_strict.exported and non_strict.error_type == "GuardOnDataDependentSymNode"
    assert "VALUE_BRANCH" in non_strict.location.code
    assert not strict.exported and "VALUE_BRANCH" in strict.location.code
    (issue,) = result.draft_issues
    assert issue.kind is DraftIssueKind.DATA_DEPENDENT and "u0" in issue.detail
    assert issue.location.file.endswith("test_export.py") and "VALUE_BRANCH" in issue.location.code


@pytest.mark.parametrize("scaled", [True, False])
def test_branch_on_a_python_flag_reports_the_captured_value(scaled):
    """The export passes and names the flag, its line and the value the program holds."""
    result = check_export(pair_target(Flagged(scaled), torch.rand(3, WIDTH)), EAGER)
    assert result.status is CheckStatus.PASSED
    (flag,) = result.captured_flags
    assert (flag.module, flag.attribute, flag.value) == ("", "scaled", repr(scaled))
    assert "FLAG_LINE" in flag.location.code


def test_flags_inside_torch_modules_are_not_reported():
    """Only the user's forwards are read: nn.Linear's own code is torch's business."""
    assert captured_flags(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))) == ()


def test_export_runs_in_eval_mode_when_the_target_has_it():
    """An exported program is for deployment: eval mode unless the target is train-only."""
    target = pair_target(Clean(), torch.rand(3, WIDTH))
    assert check_export(target, EAGER).mode is Task.INFER
    train_only = Target(
        name="t", build=Clean, make_inputs=lambda: (torch.rand(3, WIDTH),), modes=(Task.TRAIN,)
    )
    assert check_export(train_only, EAGER).mode is Task.TRAIN


def test_missing_draft_export_is_reported_as_not_available(monkeypatch):
    """On a torch without draft_export the failure stands, with a note naming the version."""
    import torch.export._draft_export  # where 2.6 has it, unexported

    monkeypatch.delattr(torch.export, "draft_export", raising=False)
    monkeypatch.delattr(torch.export._draft_export, "draft_export")
    result = check_export(pair_target(ValueBranch(), torch.rand(3, WIDTH)), EAGER)
    assert result.status is CheckStatus.FAILED and result.draft_issues == ()
    assert result.draft_note == (
        f"torch.export.draft_export is not available in torch {torch.__version__}"
    )


def test_exported_program_that_differs_from_eager_fails_parity(monkeypatch):
    """A program whose outputs leave the tolerance is a failure, with the error measured."""

    def off_by_one(program, module, inputs, dtype):
        real = original(program, module, inputs, dtype)
        return type(real)(max_abs=1.0, atol=real.atol, rtol=real.rtol, passed=False)

    original = export_check._compare
    monkeypatch.setattr(export_check, "_compare", off_by_one)
    result = check_export(pair_target(Clean(), torch.rand(3, WIDTH)), EAGER)
    assert result.status is CheckStatus.FAILED
    assert all(a.exported and a.parity.max_abs == 1.0 for a in result.attempts)


def test_the_hazard_module_is_flagged_and_its_clean_counterpart_passes():
    """hazard/data_dependent_branch fails the export check; its torch.where twin passes."""
    assert check_export(data_dependent_branch.target(), EAGER).status is CheckStatus.FAILED
    clean = check_export(data_dependent_branch.clean_target(), EAGER)
    assert clean.status is CheckStatus.PASSED


def test_the_audit_runs_export_only_when_asked_and_reports_it():
    """audit_target leaves export out by default; with it, a failing export fails the target."""
    from audits.audit import audit_target
    from reporting.schema.audit import CheckName, TargetStatus

    target = target_from_pair("value_branch", (ValueBranch(), (torch.randn(2, WIDTH),)))
    plain = audit_target(target, EAGER)
    assert plain.export is None and CheckName.EXPORT not in plain.flagged
    asked = audit_target(target, CheckSettings(backend="eager", optional=frozenset({"export"})))
    assert asked.export is not None and asked.export.status is CheckStatus.FAILED
    assert CheckName.EXPORT in asked.flagged and asked.status is TargetStatus.FAILED
