"""A hypothesis state machine drives random lifecycle actions and checks the invariants."""

import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

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

    def _host_grad_without_seed(self, upstream):
        self.pre.zero_grad(set_to_none=True)
        self.pre(self.x).backward(upstream)
        return self.pre.weight.grad.clone()

    @rule(blueprint=st.sampled_from(BLUEPRINTS))
    def germinate(self, blueprint):
        if self.slot.stage in (SeedStage.DORMANT,):
            self.slot.germinate(blueprint)
            with torch.no_grad():
                for p in self.slot.get_parameters():
                    p.add_(0.1)
        else:
            with pytest.raises(ValueError, match="already holds seed"):
                self.slot.germinate(blueprint)

    @rule(stage=st.sampled_from(list(SeedStage)))
    def advance(self, stage):
        target = stage
        if self.slot.state is None:
            with pytest.raises(ValueError, match="has no seed"):
                self.slot.advance_stage(target)
            return
        before = self.slot.stage
        if not is_valid_transition(before, target):
            with pytest.raises(ValueError, match="illegal transition"):
                self.slot.advance_stage(target)
            assert self.slot.stage == before
            return
        result = self.slot.advance_stage(target)
        assert (
            self.slot.stage == (target if result.passed else before) or target == SeedStage.DORMANT
        )

    @rule()
    def cull(self):
        before = self.slot.stage
        culled = self.slot.cull("random")
        if before == SeedStage.FOSSILIZED:
            assert not culled and self.slot.stage == SeedStage.FOSSILIZED
        if culled:
            assert self.slot.seed is None and self.slot.stage == SeedStage.CULLED

    @rule()
    def step_epoch(self):
        self.slot.step_epoch()

    @rule(alpha=st.one_of(st.floats(0.0, 1.0), st.sampled_from([float("nan"), -0.5, 2.0])))
    def set_alpha(self, alpha):
        if 0.0 <= alpha <= 1.0:
            self.slot.set_alpha(alpha)
            assert self.slot.alpha == alpha
        else:
            before = self.slot.alpha
            with pytest.raises(ValueError, match="alpha must be a finite number"):
                self.slot.set_alpha(alpha)
            assert self.slot.alpha == before

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
        assert stage == self.last_stage or is_valid_transition(self.last_stage, stage), (
            self.last_stage,
            stage,
        )
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
