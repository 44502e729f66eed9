"""A hypothesis state machine drives random lifecycle actions and checks the invariants."""

import math

import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from esper.kasmina.errors import SlotOccupiedError
from esper.kasmina.slot import QualityGates, SeedSlot
from esper.leyline import SeedStage, is_valid_transition

CHANNELS = 4
BLUEPRINTS = ["norm", "attention", "depthwise", "conv_light", "conv_heavy"]


class SlotLifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.pre = nn.Conv2d(3, CHANNELS, 1)  # the host layer upstream of the slot
        self.slot = SeedSlot(
            "s", channels=CHANNELS, gates=QualityGates(min_training_epochs=1, blending_epochs=3)
        )
        self.x = torch.randn(2, 3, 4, 4)
        self.last_stage = self.slot.stage
        self.culled = False

    def _host_grad_without_seed(self, upstream):
        self.pre.zero_grad(set_to_none=True)
        self.pre(self.x).backward(upstream)
        return self.pre.weight.grad.clone()

    @rule(blueprint=st.sampled_from(BLUEPRINTS))
    def germinate(self, blueprint):
        if self.slot.state is None:
            self.slot.germinate(blueprint)
            assert self.slot.state.seed_id == f"s-{blueprint}"
            with torch.no_grad():
                for p in self.slot.get_parameters():
                    p.add_(0.1)
        else:
            before = self.slot.stage
            with pytest.raises(SlotOccupiedError, match="already holds seed"):
                self.slot.germinate(blueprint)
            assert self.slot.stage == before

    @rule(stage=st.sampled_from(list(SeedStage)))
    def advance(self, stage):
        """advance_stage never raises; a passed result moved exactly to the target."""
        state = self.slot.state
        result = self.slot.advance_stage(stage)
        if state is None:
            assert not result.passed and result.checks_failed == ["no_active_seed"]
            return
        before = self.last_stage
        if not is_valid_transition(before, stage):
            assert not result.passed and self.slot.stage == before
        elif result.passed:
            assert self.slot.stage == stage  # DORMANT: the slot emptied itself
        else:
            assert self.slot.stage == before

    @rule(stage=st.sampled_from(list(SeedStage)))
    def transition_state_directly(self, stage):
        """SeedState.transition: True for a legal move, False and no change otherwise."""
        state = self.slot.state
        if state is None or stage == SeedStage.DORMANT:
            return  # DORMANT through the state alone would leave a seed behind
        before = state.stage
        moved = state.transition(stage)
        assert moved == is_valid_transition(before, stage)
        assert state.stage == (stage if moved else before)
        if moved:
            assert state.previous_stage == before and state.stage_history[-1][0] == stage

    @rule(accuracy=st.floats(0.0, 100.0))
    def record_accuracy(self, accuracy):
        state = self.slot.state
        if state is None:
            return
        total = state.metrics.epochs_total
        self.slot.record_accuracy(accuracy)
        assert state.metrics.epochs_total == total + 1

    @rule()
    def step_epoch(self):
        before = self.slot.stage
        self.slot.step_epoch()
        if before != SeedStage.FOSSILIZED:
            assert self.slot.stage != SeedStage.FOSSILIZED  # fossilizing is a decision

    @rule(contribution=st.floats(-1.0, 1.0))
    def fossilize(self, contribution):
        """G5 lets a PROBATIONARY seed with a positive counterfactual fossilize, nothing else."""
        state = self.slot.state
        if state is None:
            return
        before = state.stage
        state.metrics.counterfactual_contribution = contribution
        result = self.slot.advance_stage(SeedStage.FOSSILIZED)
        expected = before == SeedStage.PROBATIONARY and contribution > 0 and state.is_healthy
        assert result.passed == expected
        assert self.slot.stage == (SeedStage.FOSSILIZED if expected else before)

    @rule()
    def cull(self):
        before = self.slot.stage
        culled = self.slot.cull("random")
        if before in (SeedStage.FOSSILIZED, SeedStage.DORMANT):
            assert not culled and self.slot.stage == before
        else:
            assert culled
            assert self.slot.seed is None and self.slot.state is None
            assert self.slot.stage == SeedStage.DORMANT and self.slot.alpha == 0.0
            self.culled = True

    @rule(alpha=st.one_of(st.floats(0.0, 1.0), st.sampled_from([float("nan"), -0.5, 2.0])))
    def set_alpha(self, alpha):
        if math.isnan(alpha):
            before = self.slot.alpha
            with pytest.raises(ValueError, match="nan"):
                self.slot.set_alpha(alpha)
            assert self.slot.alpha == before
        else:
            self.slot.set_alpha(alpha)
            assert self.slot.alpha == min(max(alpha, 0.0), 1.0)

    @rule(alpha=st.floats(0.0, 1.0))
    def forward_under_forced_alpha(self, alpha):
        before = self.slot.alpha
        with self.slot.force_alpha(alpha):
            out = self.slot(self.pre(self.x))
            assert torch.isfinite(out).all()
        assert self.slot.alpha == before

    @rule()
    def forward_backward(self):
        features = self.pre(self.x)
        out = self.slot(features)
        assert torch.isfinite(out).all()
        upstream = torch.randn_like(out)
        stage = self.slot.stage
        ste = stage == SeedStage.TRAINING and self.slot.alpha == 0.0 and self.slot.seed is not None
        if ste:
            assert torch.equal(out, features)
        self.pre.zero_grad(set_to_none=True)
        out.backward(upstream)
        if ste and self.slot.isolate_gradients:
            host_grad = self.pre.weight.grad.clone()
            assert torch.equal(host_grad, self._host_grad_without_seed(upstream))

    @invariant()
    def stage_is_legal(self):
        stage = self.slot.stage
        # Every action makes at most one move, and only along VALID_TRANSITIONS.
        # cull() empties the slot from any live stage; every other move is a legal one.
        culled, self.culled = self.culled, False
        assert (
            stage == self.last_stage
            or is_valid_transition(self.last_stage, stage)
            or (culled and stage == SeedStage.DORMANT)
        ), (self.last_stage, stage)
        if stage == SeedStage.FOSSILIZED:
            assert self.slot.seed is not None
        self.last_stage = stage

    @invariant()
    def alpha_in_range_and_mirrored(self):
        assert 0.0 <= self.slot.alpha <= 1.0
        assert self.slot.alpha_tensor.item() == pytest.approx(self.slot.alpha)


SlotLifecycle.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSlotLifecycle = SlotLifecycle.TestCase
