"""The cudagraphs check where there is no GPU: 'not applicable', the backend it needs, how
torch's messages are read, and which steps count as findings. tests/cuda/ runs it for real."""

import logging

import pytest

from audits.audit import audit_target
from audits.catalog import catalog_target
from audits.checks import cudagraphs as cudagraphs_check
from audits.checks.common import CheckSettings
from audits.checks.cudagraphs import check_cudagraphs, step_failed
from audits.targets import ScenarioStep
from foundation.codec import from_jsonable, to_jsonable
from reporting.schema.audit import CheckName, CheckStatus, TargetStatus
from reporting.schema.cudagraphs import CudagraphsResult, CudagraphStep

HAZARD = "hazard/mutated_input"


def test_on_cpu_the_check_is_not_applicable():
    """A CPU run says 'not applicable' (skipped), whatever the target."""
    result = check_cudagraphs(catalog_target("hazard", HAZARD), CheckSettings(device="cpu"))
    assert result.status is CheckStatus.SKIPPED
    assert result.skipped_reason.startswith("not applicable on cpu")


def test_another_backend_is_skipped_with_the_reason():
    """reduce-overhead is inductor's: with aot_eager it is skipped before CUDA is touched."""
    settings = CheckSettings(device="cuda", backend="aot_eager")
    result = check_cudagraphs(catalog_target("hazard", HAZARD), settings)
    assert result.status is CheckStatus.SKIPPED
    assert "'aot_eager'" in result.skipped_reason


def test_a_cuda_hazard_on_cpu_is_reported_not_applicable_and_not_missed():
    """The hazard runs the check it expects; on CPU that is skipped, which is no miss."""
    result = audit_target(catalog_target("hazard", HAZARD), CheckSettings(backend="aot_eager"))
    assert result.error is None, result.error
    assert result.cudagraphs.status is CheckStatus.SKIPPED
    assert result.expected_flags == (CheckName.CUDAGRAPHS,) and result.missed == ()
    assert result.status is TargetStatus.PASSED


def _record(message: str) -> logging.LogRecord:
    name = "torch._inductor.cudagraph_trees.__cudagraphs"
    return logging.LogRecord(name, logging.DEBUG, "", 0, message, (), None)


def test_torchs_messages_are_counted_as_recordings_skips_and_rerecordings(monkeypatch):
    """The log lines of cudagraph_trees (2.13 wording) become a step's counts and reasons;
    torch logs a re-recording, then the recording itself."""
    records: list[logging.LogRecord] = []
    said = [
        "[0/0] Recording function=forward, mode=FORWARD, cuda_graph_id=0, inputs: []",
        "[0/0] Re-recording function=forward, mode=FORWARD, reason=static input data pointer "
        "changed.",
        "[0/0] Recording function=forward, mode=FORWARD, cuda_graph_id=1, inputs: []",
        "skipping cudagraphs due to mutated inputs (1 instances). Found from : \n x.sub_(1)",
    ]
    monkeypatch.setattr(cudagraphs_check, "_skips", lambda: 0)

    def call(*_args):
        records.extend(_record(m) for m in said)

    monkeypatch.setattr(cudagraphs_check, "_call", call)
    step = cudagraphs_check._run_step(
        ScenarioStep(name="alpha step 0", calls=1, max_compiles=0), None, None, (), False, records
    )
    assert (step.recordings, step.rerecordings, step.skips) == (2, 1, 1)
    assert step.rerecord_reasons == ("static input data pointer changed.",)
    assert step.skip_reasons[0].startswith("skipping cudagraphs due to mutated inputs")
    assert step.max_recordings == 0 and step_failed(step)


@pytest.mark.parametrize(
    ("step", "fails"),
    [
        (CudagraphStep(step="BLENDING", calls=2, recordings=1, rerecordings=1), False),
        (CudagraphStep(step="alpha step 3", calls=1, recordings=0, max_recordings=0), False),
        (CudagraphStep(step="alpha step 3", calls=1, recordings=1, max_recordings=0), True),
        (CudagraphStep(step="first calls", calls=3, recordings=0, skips=1), True),
    ],
)
def test_a_stage_change_may_record_an_alpha_step_may_not(step, fails):
    """Recording anew after a stage change is expected; in an alpha step, or a skip, it fails."""
    assert step_failed(step) is fails


def test_the_result_round_trips_through_the_codec():
    """A CudagraphsResult written to report.json reads back equal."""
    result = CudagraphsResult(
        status=CheckStatus.FAILED,
        recorded=True,
        total_recordings=1,
        total_skips=1,
        steps=(CudagraphStep(step="first calls", calls=3, recordings=1, skips=1),),
    )
    assert from_jsonable(CudagraphsResult, to_jsonable(result)) == result
