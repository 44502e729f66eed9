"""audits.torch_compat: the bridges to older torch releases read the same facts as 2.13 does."""

from types import SimpleNamespace

import pytest
import torch
import torch._dynamo
from torch._guards import CompileContext, CompileId, compile_context

from audits.checks.common import CompileLog
from audits.torch_compat import (
    compile_id_of,
    dynamo_config_name,
    is_recompile_limit_message,
    recompile_limit,
    recompile_limit_errors,
)


def test_compile_id_comes_from_callback_args_or_the_compile_context():
    """2.9+ passes CallbackArgs (dynamo frames only); 2.5 passes nothing, inside the context."""
    dynamo = SimpleNamespace(callback_trigger=SimpleNamespace(name="DYNAMO"), compile_id="0/2")
    backward = SimpleNamespace(
        callback_trigger=SimpleNamespace(name="LAZY_BACKWARD"), compile_id="0/2"
    )
    assert compile_id_of(dynamo) == "0/2"
    assert compile_id_of(backward) is None
    assert compile_id_of() is None  # no compilation in progress
    with compile_context(CompileContext(CompileId(frame_id=3, frame_compile_id=1))):
        assert compile_id_of() == "3/1"


def test_compile_log_accepts_the_argument_free_callback_of_torch_2_5():
    """CompileLog records a compilation whether or not dynamo hands it CallbackArgs."""
    log = CompileLog()
    with compile_context(CompileContext(CompileId(frame_id=0, frame_compile_id=4))):
        log()
    log(SimpleNamespace(callback_trigger=SimpleNamespace(name="DYNAMO"), compile_id="1/0"))
    assert log.ids == ["0/4", "1/0"]


def test_compile_log_counts_real_compilations():
    """Registered with this torch's callback handler, it sees one id per dynamo compilation."""
    torch._dynamo.reset()
    log = CompileLog().installed()
    try:
        f = torch.compile(lambda x, n: x * n, backend="eager")
        f(torch.ones(2), 2)
        f(torch.ones(3, 3), 2)  # a new shape: a recompile of the same frame
        assert [i.split("/")[0] for i in log.ids] == ["0", "0"]
    finally:
        torch._dynamo.callback_handler.remove_start_callback(log)
        torch._dynamo.reset()


def test_config_names_are_translated_both_ways():
    """recompile_limit and cache_size_limit name the same entry on every release."""
    assert hasattr(torch._dynamo.config, dynamo_config_name("recompile_limit"))
    assert hasattr(torch._dynamo.config, dynamo_config_name("cache_size_limit"))
    assert dynamo_config_name("no_such_entry") == "no_such_entry"
    with torch._dynamo.config.patch({dynamo_config_name("recompile_limit"): 3}):
        assert recompile_limit() == 3


@pytest.mark.parametrize(
    "message",
    [
        "cache_size_limit reached",  # 2.5
        "accumulated_cache_size_limit reached",  # 2.5
        "recompile_limit reached",  # 2.9, skipping the frame recursively
        "Dynamo cache limit exceeded\n  Explanation: ...",  # 2.9
        "Dynamo recompile limit exceeded\n  Explanation: ...",  # 2.13
    ],
)
def test_every_release_s_recompile_limit_message_is_recognised(message):
    """The counter key each release uses for a limit hit is read as a limit hit."""
    assert is_recompile_limit_message(message)


@pytest.mark.parametrize("message", ["Tensor.item", "Data-dependent branching", ""])
def test_other_unsupported_messages_are_not_limit_hits(message):
    """A graph break is not mistaken for a recompile-limit hit."""
    assert not is_recompile_limit_message(message)


def test_the_fullgraph_limit_error_is_found_where_torch_has_it():
    """torch 2.13 raises FailOnRecompileLimitHit at the limit under fullgraph=True."""
    from torch._dynamo import exc

    expected = getattr(exc, "FailOnRecompileLimitHit", None)
    assert recompile_limit_errors() == ((expected,) if expected else ())
