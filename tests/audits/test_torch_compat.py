"""audits.torch_compat: the bridges to older torch releases read the same facts as 2.13 does."""

import logging
from types import SimpleNamespace

import pytest
import torch
import torch._dynamo
from torch._guards import CompileContext, CompileId, compile_context
from torch.fx.experimental.symbolic_shapes import ConstraintViolationError

from audits.checks.common import CompileLog, guard_failure_marks, guard_failures_since
from audits.torch_compat import (
    compile_id_of,
    dynamo_config_name,
    is_recompile_limit_message,
    readable_guard,
    recompile_limit,
    recompile_limit_errors,
    shape_guards_logged,
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
    """Both names torch has used for the limit error are looked up, where they exist."""
    from torch._dynamo import exc

    names = ("FailOnRecompileLimitHit", "RecompileLimitExceeded")
    expected = tuple(getattr(exc, n) for n in names if hasattr(exc, n))
    assert recompile_limit_errors() == expected


@pytest.mark.skipif(not recompile_limit_errors(), reason="torch 2.5 falls back to eager instead")
def test_the_error_fullgraph_raises_at_the_limit_is_recognised():
    """What a fullgraph frame raises at its limit (FailOnRecompileLimitHit on 2.13,
    RecompileLimitExceeded on 2.6) is one of recompile_limit_errors()."""
    f = torch.compile(lambda x, n: x * n, backend="eager", fullgraph=True)
    config = {dynamo_config_name("recompile_limit"): 1, "automatic_dynamic_shapes": False}
    with torch._dynamo.config.patch(config):
        f(torch.ones(2), 1)
        with pytest.raises(recompile_limit_errors()):
            f(torch.ones(2), 2)  # n is a constant: a recompile, past the limit


def test_failed_guards_name_locals_without_the_frame_scope():
    """A guard torch records on a module attribute reads `self.calls`, on every release."""

    class Counting(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            return x * self.calls

    marks = guard_failure_marks()
    compiled = torch.compile(Counting(), backend="eager")
    with torch._dynamo.config.patch(automatic_dynamic_shapes=False):
        compiled(torch.ones(2))
        compiled(torch.ones(2))
    (reason,) = guard_failures_since(marks)
    assert readable_guard(reason).startswith("0/0: self.calls == 0")


def test_shape_guards_are_read_from_the_log_and_the_logger_is_restored():
    """The guard that made a marked dim a constant is logged with the user's line."""
    logger = logging.getLogger("torch.fx.experimental.symbolic_shapes")
    before = (logger.level, logger.propagate, list(logger.handlers))

    def per_sample(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[i] * 2 for i in range(x.shape[0])])  # SPECIALISES

    x = torch.ones(4, 2)
    torch._dynamo.mark_dynamic(x, 0)
    violated = pytest.raises(ConstraintViolationError, match="Constraints violated")
    with shape_guards_logged() as logged, violated:
        torch.compile(per_sample, backend="eager")(x)
    added = [m for m in logged if "[guard added]" in m and "Eq(s" in m]
    assert any("# SPECIALISES" in m and "test_torch_compat.py" in m for m in added), logged
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


def test_missing_apis_names_what_this_torch_lacks(monkeypatch):
    """The audit records the optional APIs a release lacks under the checks' names."""
    import torch

    from audits.torch_compat import missing_apis
    from reporting.version_matrix import torch_release

    if torch_release(torch.__version__) >= (2, 7):
        assert missing_apis() == ()
    monkeypatch.delattr(torch.compiler, "save_cache_artifacts")
    monkeypatch.delattr(torch.compiler, "set_stance")
    assert missing_apis() == ("torch.compiler.save_cache_artifacts", "torch.compiler.set_stance")
