"""The shapes check on tiny modules with the cheap backends: compiles over a size sweep,
the guards behind them, and advice that is proven by a second sweep."""

import pytest
import torch
from torch import nn

from audits.checks.common import CheckSettings
from audits.checks.shape_sweep import resize, sweep_points
from audits.checks.shapes import check_shapes
from audits.hazards import batch_loop
from audits.targets import DynamicDim, Target, batch_dims, target_from_pair
from reporting.schema.audit import CheckStatus
from reporting.schema.shapes import AdviceKind, DimKind, SpecialisationKind

EAGER = CheckSettings(backend="eager")
WIDTH = 4


class Clean(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.proj(x))


class Sequence(Clean):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, WIDTH)
        B, T, C = x.shape
        return self.proj(x).reshape(B * T, C).softmax(-1).view(B, T, C)


class PerSample(Clean):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.proj(x[i]) for i in range(x.shape[0])])  # LOOP_LINE


class EvenBatch(Clean):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).view(x.shape[0] // 2, 2, WIDTH).sum(1)


def pair_target(module: nn.Module, *inputs: torch.Tensor, **kwargs) -> Target:
    return target_from_pair("t", (module, inputs), **kwargs)


def test_clean_module_compiles_once_per_dynamic_transition_and_for_size_one():
    """A clean batch sweep: the first compile, one when the batch turns dynamic, one for 1."""
    result = check_shapes(pair_target(Clean(), torch.rand(3, WIDTH)), EAGER)
    assert result.status is CheckStatus.PASSED
    assert [c.compiles for c in result.calls] == [1, 1, 0, 0, 1]
    assert result.budget == 3 and result.max_frame_compiles == 3
    assert result.dynamic_from_call == 2
    assert result.calls[1].dynamic == ("x dim 0",)
    assert "size mismatch at index 0" in result.calls[1].guard_failures[0].guard
    (one,) = result.specialisations
    assert one.kind is SpecialisationKind.SIZE_ONE and one.value == 1 and one.call == 5
    assert result.trials == () and result.advice is None  # nothing to remove


def test_batch_and_sequence_turn_dynamic_in_one_recompile():
    """Dims of two kinds change together, so one recompile makes both dynamic."""
    dims = (
        DynamicDim(input=0, dim=0, kind=DimKind.BATCH),
        DynamicDim(input=0, dim=1, kind=DimKind.SEQUENCE, max_size=8),
    )
    result = check_shapes(
        pair_target(Sequence(), torch.rand(2, 6, WIDTH), dynamic_dims=dims), EAGER
    )
    assert result.status is CheckStatus.PASSED
    assert result.calls[1].dynamic == ("x dim 0", "x dim 1")
    assert result.total_compiles == 3


@pytest.mark.slow
def test_loop_over_the_batch_is_flagged_with_the_line_and_padding_advice():
    """A per-sample loop recompiles for every batch size; only padding to a bucket helps."""
    result = check_shapes(pair_target(PerSample(), torch.rand(3, WIDTH)), EAGER)
    assert result.status is CheckStatus.FAILED
    assert result.max_frame_compiles == len(result.calls) == 5
    constant = next(s for s in result.specialisations if s.kind is SpecialisationKind.CONSTANT)
    assert constant.call == 2 and "LOOP_LINE" in constant.location.code
    assert [t.advice for t in result.trials] == [
        AdviceKind.MARK_DYNAMIC,
        AdviceKind.DYNAMIC_TRUE,
        AdviceKind.PAD_TO_BUCKETS,
    ]
    mark, dynamic, pad = result.trials
    assert mark.error.startswith("ConstraintViolationError") and not mark.removes_recompiles
    assert dynamic.max_frame_compiles == 5 and not dynamic.removes_recompiles
    assert result.advice is pad and pad.max_frame_compiles == 1 and "to 8" in pad.code


def test_mark_dynamic_advice_removes_the_recompiles_it_is_proven_on():
    """Without automatic dynamic shapes every size recompiles; mark_dynamic is the narrowest
    advice, and its rerun compiles only the first shape and size 1."""
    with torch._dynamo.config.patch(automatic_dynamic_shapes=False):
        result = check_shapes(pair_target(Clean(), torch.rand(3, WIDTH)), EAGER)
    assert result.status is CheckStatus.FAILED
    assert result.max_frame_compiles == 5 and result.dynamic_from_call is None
    (trial,) = result.trials
    assert result.advice is trial and trial.advice is AdviceKind.MARK_DYNAMIC
    assert trial.code == "torch._dynamo.mark_dynamic(x, 0)"
    assert trial.max_frame_compiles == 2 and trial.error is None


def test_the_hazard_module_is_flagged_and_its_clean_counterpart_passes():
    """hazard/batch_loop fails the shapes check; batch_loop_clean passes it."""
    assert check_shapes(batch_loop.target(), EAGER).status is CheckStatus.FAILED
    assert check_shapes(batch_loop.clean_target(), EAGER).status is CheckStatus.PASSED


def test_a_pair_varies_the_first_dim_of_every_tensor_input():
    """target_from_pair declares dim 0 of each tensor input a batch; non-tensors are left."""
    target = target_from_pair("t", (Clean(), (torch.rand(2, WIDTH), 3, torch.rand(2, 5))))
    assert target.dynamic_dims == batch_dims(0, 2)


def test_target_without_dynamic_dims_is_skipped():
    """A Target that declares no dynamic dims is not swept."""
    target = Target(name="t", build=Clean, make_inputs=lambda: (torch.rand(2, WIDTH),))
    result = check_shapes(target, EAGER)
    assert result.status is CheckStatus.SKIPPED and "no dynamic dims" in result.skipped_reason


def test_odd_batch_that_eager_refuses_is_a_clear_error():
    """A swept size eager cannot run is a wrong declaration, named with the size."""
    with pytest.raises(ValueError, match=r"eager fails at batch 3 .*x dim 0 \(batch\)"):
        check_shapes(pair_target(EvenBatch(), torch.rand(4, WIDTH)), EAGER)


@pytest.mark.parametrize(
    ("dims", "match"),
    [
        ((DynamicDim(input=1, dim=0, kind=DimKind.BATCH),), "names input 1, but the target has 1"),
        ((DynamicDim(input=0, dim=2, kind=DimKind.BATCH),), "dynamic dim 2 of input 0"),
    ],
)
def test_dims_that_do_not_fit_the_inputs_are_refused(dims, match):
    """Dynamic dims naming a missing input or dim raise ValueError with the bad value."""
    with pytest.raises(ValueError, match=match):
        check_shapes(pair_target(Clean(), torch.rand(2, WIDTH), dynamic_dims=dims), EAGER)


def test_non_tensor_input_is_refused():
    """A dynamic dim on a non-tensor input raises ValueError naming its type."""
    dims = (DynamicDim(input=1, dim=0, kind=DimKind.BATCH),)
    target = target_from_pair("t", (Clean(), (torch.rand(2, WIDTH), 3)), dynamic_dims=dims)
    with pytest.raises(ValueError, match="a int, not a tensor"):
        check_shapes(target, EAGER)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input": -1, "dim": 0}, "input=-1"),
        ({"input": 0, "dim": 0, "max_size": 0}, "max_size must be >= 1, got 0"),
        ({"input": 0, "dim": 0, "sizes": (0, 2)}, r"sizes must be >= 1, got \(0, 2\)"),
        ({"input": 0, "dim": 0, "sizes": (9,), "max_size": 8}, "exceed max_size 8"),
    ],
)
def test_dynamic_dim_validates_its_fields(kwargs, match):
    """DynamicDim raises ValueError with the bad value."""
    with pytest.raises(ValueError, match=match):
        DynamicDim(kind=DimKind.BATCH, **kwargs)


def test_target_refuses_the_same_dim_twice():
    """Two declarations of one (input, dim) are refused."""
    with pytest.raises(ValueError, match=r"\(input, dim\) twice"):
        Target(
            name="t",
            build=Clean,
            make_inputs=lambda: (torch.rand(2, WIDTH),),
            dynamic_dims=batch_dims(0, 0),
        )


def test_sequence_sweep_stays_within_max_size_and_kinds_cycle():
    """Sequence sizes above max_size are left out; the shorter sweep cycles."""
    dims = (
        DynamicDim(input=0, dim=0, kind=DimKind.BATCH),
        DynamicDim(input=0, dim=1, kind=DimKind.SEQUENCE, max_size=5),
    )
    points = sweep_points(dims)
    assert [p.size_of(DimKind.BATCH) for p in points] == [2, 4, 8, 3, 1]
    assert [p.size_of(DimKind.SEQUENCE) for p in points] == [4, 5, 4, 5, 4]


def test_resize_cuts_or_tiles_into_a_fresh_leaf():
    """Resizing keeps values from the example (valid token ids) and requires_grad."""
    x = torch.arange(6).view(2, 3).float().requires_grad_()
    grown = resize(x, 0, 5)
    assert grown.shape == (5, 3) and grown.is_leaf and grown.requires_grad
    assert torch.equal(grown[2:4], x.detach())
    assert torch.equal(resize(x, 1, 2), x.detach()[:, :2])
