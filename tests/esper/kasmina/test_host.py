"""Hosts, injection points and MorphogeneticModel."""

import pytest
import torch
import torch.nn as nn
from support.esper_models import tiny_host, tiny_input, tiny_model

from esper.kasmina.host import CNNHost, MorphogeneticModel, TransformerHost
from esper.kasmina.protocol import HostProtocol
from esper.kasmina.slot import SeedSlot


def test_cnn_needs_two_blocks():
    """n_blocks < 2 raises ValueError with the value."""
    with pytest.raises(ValueError, match="n_blocks must be an int >= 2.*got 1"):
        CNNHost(n_blocks=1)


def test_cnn_injection_points_follow_every_block_but_the_first():
    """block{n}_post for n >= 2 with the block's width; _slot_keys is a tuple."""
    host = CNNHost(n_blocks=4, base_channels=8)
    assert host.injection_points == {"block2_post": 16, "block3_post": 32, "block4_post": 64}
    assert isinstance(host._slot_keys, tuple)
    assert host._slot_keys == (None, "block2_post", "block3_post", "block4_post")


def test_transformer_injection_points():
    """layer_{i}_post_block for each layer, n_embd channels each."""
    host = TransformerHost(vocab_size=32, n_embd=16, n_head=2, n_layer=3, block_size=8)
    assert host.injection_points == {f"layer_{i}_post_block": 16 for i in range(3)}
    assert host.lm_head.weight is host.wte.weight


def test_transformer_rejects_long_sequences_with_value_error():
    """T > block_size raises ValueError naming both lengths (never an assert)."""
    host = tiny_host("transformer")
    with pytest.raises(ValueError, match="sequence length 17 exceeds block_size 16"):
        host(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize(
    "topology, bad, match",
    [
        ("cnn", torch.randn(2, 4, 16, 16), r"expects a floating-point \(B, 3, H, W\)"),
        ("cnn", torch.randn(2, 3, 4, 4), "needs H and W >= 8"),
        ("transformer", torch.randn(2, 4), r"expects \(B, T\) integer token ids"),
    ],
)
def test_hosts_validate_input(topology, bad, match):
    """Malformed input raises ValueError, not a shape error deep inside."""
    with pytest.raises(ValueError, match=match):
        tiny_host(topology)(bad)


@pytest.mark.parametrize("topology", ["cnn", "transformer"])
def test_unknown_injection_point(topology):
    """register_slot, unregister_slot and MorphogeneticModel refuse unknown points."""
    host = tiny_host(topology)
    with pytest.raises(ValueError, match=r"Unknown injection point: 'nowhere' \(\w+Host has \["):
        host.register_slot("nowhere", nn.Identity())
    with pytest.raises(ValueError, match="Unknown injection point: 'nowhere'"):
        host.unregister_slot("nowhere")
    with pytest.raises(ValueError, match="Unknown injection point: 'nowhere'"):
        MorphogeneticModel(host, slot_id="nowhere")


def test_register_slot_checks_channels():
    """A SeedSlot with the wrong width cannot be registered."""
    host = tiny_host("cnn")
    with pytest.raises(ValueError, match="has 7 channels; the point carries 16"):
        host.register_slot("block2_post", SeedSlot("x", channels=7))


@pytest.mark.parametrize("topology", ["cnn", "transformer"])
def test_hosts_satisfy_host_protocol(topology):
    """Both hosts are HostProtocol instances; a plain module is not."""
    assert isinstance(tiny_host(topology), HostProtocol)
    assert not isinstance(nn.Linear(2, 2), HostProtocol)


def test_registered_slot_runs_and_unregister_restores_identity():
    """A registered slot changes the output once active; unregistering restores the host."""
    torch.manual_seed(0)
    host = tiny_host("cnn").eval()
    x = tiny_input("cnn")
    bare = host(x)
    slot = SeedSlot("block2_post", channels=16)
    host.register_slot("block2_post", slot)
    slot.germinate("conv_light")
    slot.advance_stage()
    nn.init.normal_(slot.seed.conv.weight)
    slot.state.stage = slot.state.stage.__class__.BLENDING
    slot.set_alpha(0.5)
    assert not torch.allclose(host(x), bare)
    host.unregister_slot("block2_post")
    torch.testing.assert_close(host(x), bare)


def test_transformer_model_picks_transformer_blueprint():
    """MorphogeneticModel(TransformerHost(...)).germinate_seed('lora', 's1') works."""
    model = MorphogeneticModel(tiny_host("transformer"))
    state = model.germinate_seed("lora", "s1")
    assert state.topology == "transformer" and model.seed_slot.seed.__class__.__name__ == "LoRASeed"
    assert model.seed_state is state and model.active_seed_params > 0


def test_germination_does_not_move_the_output():
    """Residual seeds start as the identity: the model output is unchanged after germinating."""
    for topology in ("cnn", "transformer"):
        model = tiny_model(topology).eval()
        x = tiny_input(topology)
        before = model(x)
        model.germinate_seed("norm" if topology == "cnn" else "mlp", "s")
        model.seed_slot.advance_stage()
        model.seed_slot.state.stage = model.seed_slot.state.stage.__class__.BLENDING
        model.seed_slot.set_alpha(0.5)
        torch.testing.assert_close(model(x), before)


def test_host_and_seed_parameters_are_disjoint():
    """get_host_parameters excludes the seed; together they cover the model."""
    model = tiny_model("cnn")
    model.germinate_seed("conv_heavy", "s")
    host_ids = {id(p) for p in model.get_host_parameters()}
    seed_ids = {id(p) for p in model.get_seed_parameters()}
    assert seed_ids and not host_ids & seed_ids
    assert host_ids | seed_ids == {id(p) for p in model.parameters()}


def test_device_tracking_follows_to():
    """model.device and the slot's device follow .to(), and new seeds land there."""
    model = tiny_model("cnn")
    assert model.device == torch.device("cpu")
    model.to("meta")
    assert model.device == torch.device("meta") and model.seed_slot.device == torch.device("meta")
    model.to_empty(device="cpu")
    model.germinate_seed("norm", "s")
    assert next(model.seed_slot.seed.parameters()).device == torch.device("cpu")
