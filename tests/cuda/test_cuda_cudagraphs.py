"""On CUDA: the cudagraphs check under reduce-overhead. The mutated-input hazard is skipped
by torch with its reason, its clean counterpart records and replays, and the transformer
lifecycle records anew at most once per stage and never during the alpha ramp.

Skipped, with the reason, where torch sees no CUDA device; `-m cuda` selects them.
"""

import pytest
import torch

from audits.builtin_targets import builtin_targets
from audits.checks.common import CheckSettings
from audits.checks.cudagraphs import FIRST_CALLS, check_cudagraphs
from audits.hazards import mutated_input
from reporting.schema.audit import CheckStatus

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available())"
    ),
]

CUDA = CheckSettings(backend="inductor", device="cuda")


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_an_input_mutated_in_forward_is_skipped_with_torchs_reason():
    """reduce-overhead runs the hazard without CUDA graphs and torch says it is the mutation."""
    result = check_cudagraphs(mutated_input.target(), CUDA)
    assert result.status is CheckStatus.FAILED
    assert result.total_skips >= 1
    reasons = [r for s in result.steps for r in s.skip_reasons]
    assert any("mutated inputs" in r for r in reasons), result


def test_the_out_of_place_version_records_and_replays():
    """The clean counterpart records CUDA graphs in its first calls and replays them after."""
    result = check_cudagraphs(mutated_input.clean_target(), CUDA)
    assert result.status is CheckStatus.PASSED, result
    first, *rest = result.steps
    assert first.calls == FIRST_CALLS and first.recordings >= 1 and first.skips == 0
    assert all(s.recordings == 0 for s in rest)


@pytest.mark.slow
def test_lifecycle_records_at_most_once_per_stage_and_never_in_the_alpha_ramp():
    """A stage change may record anew (one graph, one re-recording at most); an alpha step may
    not record at all."""
    target = next(t for t in builtin_targets() if t.name == "lifecycle/transformer")
    result = check_cudagraphs(target, CUDA)
    assert result.total_skips == 0, result
    ramp = [s for s in result.steps if s.step.startswith("alpha step")]
    assert ramp and all(s.recordings == 0 for s in ramp), ramp
    stages = [s for s in result.steps[1:] if not s.step.startswith("alpha step")]
    # forward and backward are two graphs: each may be recorded once per stage
    assert all(s.rerecordings <= 2 for s in stages), stages
    assert result.status is CheckStatus.PASSED, result
