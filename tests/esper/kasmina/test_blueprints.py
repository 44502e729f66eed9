"""BlueprintRegistry and the built-in seeds."""

import pytest
import torch
import torch.nn as nn

from esper.kasmina.blueprints import BlueprintRegistry

# In list_for_topology's order: ascending param_estimate.
CNN_SEEDS = ["norm", "attention", "depthwise", "conv_light", "conv_heavy"]
TRANSFORMER_SEEDS = ["norm", "lora", "attention", "mlp"]


def _features(topology, dim):
    return torch.randn(2, dim, 6, 6) if topology == "cnn" else torch.randn(2, 5, dim)


def test_builtin_catalogue():
    """The documented seeds exist for each topology."""
    assert [s.name for s in BlueprintRegistry.list_for_topology("cnn")] == CNN_SEEDS
    names = [s.name for s in BlueprintRegistry.list_for_topology("transformer")]
    assert [n for n in names if n != "flex_attention"] == TRANSFORMER_SEEDS
    try:
        import torch.nn.attention.flex_attention  # noqa: F401
    except ImportError:
        assert "flex_attention" not in names
    else:
        assert "flex_attention" in names


@pytest.mark.parametrize(
    "topology, name",
    [("cnn", n) for n in CNN_SEEDS]
    + [("transformer", n) for n in TRANSFORMER_SEEDS]
    + [("transformer", "flex_attention")],
)
def test_seed_keeps_shape_and_starts_as_identity(topology, name):
    """Every seed maps features to the same shape and is the identity at init."""
    if name not in [s.name for s in BlueprintRegistry.list_for_topology(topology)]:
        pytest.skip(f"{name} needs a newer torch")
    seed = BlueprintRegistry.create(topology, name, 16)
    x = _features(topology, 16)
    y = seed(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, x, rtol=0, atol=0)


def test_unknown_blueprint_lists_the_known_ones():
    """An unknown name raises ValueError naming what exists."""
    with pytest.raises(
        ValueError,
        match=r"unknown blueprint 'nope' for topology 'cnn'; known: \['norm', 'attention'",
    ):
        BlueprintRegistry.create("cnn", "nope", 8)


def test_unknown_topology_lists_topologies():
    """An unknown topology raises ValueError naming the valid ones."""
    with pytest.raises(
        ValueError, match=r"unknown topology 'rnn'; known topologies: \['cnn', 'transformer'\]"
    ):
        BlueprintRegistry.create("rnn", "norm", 8)


def test_bad_dim_is_refused():
    """dim must be a positive int."""
    with pytest.raises(ValueError, match="dim must be a positive int, got 0"):
        BlueprintRegistry.create("cnn", "norm", 0)


def test_register_unregister_and_reset():
    """User blueprints can be added and removed; reset restores the built-ins only."""

    @BlueprintRegistry.register("scale", "cnn", description="multiplies by a learnt scalar")
    class Scale(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.s = nn.Parameter(torch.ones(()))

        def forward(self, x):
            return x * self.s

    try:
        assert isinstance(BlueprintRegistry.create("cnn", "scale", 4), Scale)
        assert BlueprintRegistry.get("cnn", "scale").description == "multiplies by a learnt scalar"
        with pytest.raises(ValueError, match="already registered"):
            BlueprintRegistry.register("scale", "cnn")(Scale)
        BlueprintRegistry.unregister("cnn", "norm")
        assert "norm" not in [s.name for s in BlueprintRegistry.list_for_topology("cnn")]
    finally:
        BlueprintRegistry.reset()
    names = [s.name for s in BlueprintRegistry.list_for_topology("cnn")]
    assert names == CNN_SEEDS


def test_mlp_checkpoint_recomputes_in_backward():
    """checkpoint=True runs the MLP forward again during backward; the result is unchanged."""
    torch.manual_seed(0)
    plain = BlueprintRegistry.create("transformer", "mlp", 8)
    ckpt = BlueprintRegistry.create("transformer", "mlp", 8, checkpoint=True)
    ckpt.load_state_dict(plain.state_dict())
    nn.init.normal_(plain.proj.weight)
    ckpt.proj.weight.data.copy_(plain.proj.weight)
    calls = []
    ckpt.fc.register_forward_hook(lambda *_: calls.append(1))
    x = torch.randn(2, 3, 8)
    y_plain, y_ckpt = plain(x), ckpt(x)
    torch.testing.assert_close(y_plain, y_ckpt)
    y_plain.sum().backward()
    y_ckpt.sum().backward()
    assert len(calls) == 2  # forward + recomputation
    torch.testing.assert_close(plain.fc.weight.grad, ckpt.fc.weight.grad)


@pytest.mark.parametrize(
    "kwargs, match", [({"rank": 0}, "rank must be in"), ({"rank": 99}, "rank must be in")]
)
def test_lora_rank_is_validated(kwargs, match):
    """LoRA rank outside [1, dim] is refused."""
    with pytest.raises(ValueError, match=match):
        BlueprintRegistry.create("transformer", "lora", 16, **kwargs)


def test_attention_head_count_must_divide_dim():
    """An attention seed refuses n_head that does not divide dim."""
    with pytest.raises(ValueError, match="n_head must be a positive divisor of dim=10"):
        BlueprintRegistry.create("transformer", "attention", 10, n_head=3)
