"""A check that trips a device-side assert is reported as that; the other checks run anew."""

import pytest
from support.device_fault import MESSAGE, device_fault_target, reset_device
from support.torch_release import FORK_ON_THIS_BUILD

from audits.audit import audit_target_part
from audits.checks.common import CheckSettings
from audits.checks.device_fault import is_device_fault
from audits.runner import RunnerSettings, job_for_target, run_jobs
from reporting.schema.audit import CheckName, CheckStatus, TargetStatus

EAGER = CheckSettings(backend="eager")


@pytest.fixture(autouse=True)
def _working_device():
    reset_device()
    yield
    reset_device()


def test_device_side_assert_messages_are_recognised():
    """The CUDA runtime's sticky errors are faults; an out-of-memory or a ValueError is not."""
    assert is_device_fault(RuntimeError(MESSAGE))
    assert is_device_fault(RuntimeError("CUDA error: an illegal memory access was encountered"))
    assert not is_device_fault(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_device_fault(ValueError("inputs must be positive"))
    assert not is_device_fault(None)


def test_a_fault_ends_the_process_and_names_its_check_and_input():
    """In one process: the faulting case is kept, later cases and checks are left for a rerun."""
    part = audit_target_part(device_fault_target(), EAGER)
    (fault,) = part.result.device_faults
    assert (fault.check, fault.input) == (CheckName.EXCEPTIONS, "negative input")
    assert fault.message == "CUDA error: device-side assert triggered"
    assert fault.not_run == ("zero input",)
    (case,) = part.result.exceptions.cases
    assert case.eager_type == "RuntimeError" and "device-side assert" in case.compiled_message
    assert part.result.breaks is None  # not run in a process whose device is gone
    assert part.rerun_skip == frozenset(
        {
            CheckName.FULLGRAPH,
            CheckName.RECOMPILES,
            CheckName.COMPILE_TIME,
            CheckName.PARITY,
            CheckName.EXCEPTIONS,
        }
    )


@pytest.mark.parametrize(
    "start_method",
    [
        pytest.param("fork", marks=FORK_ON_THIS_BUILD),
        pytest.param("forkserver", marks=pytest.mark.slow),
    ],
)
def test_runner_runs_the_other_checks_in_a_fresh_process(tmp_path, start_method):
    """The fault is detected; breaks, run after it, passes in a fresh process."""
    settings = RunnerSettings(
        checks=EAGER, timeout_s=120.0, jobs=1, threads_per_job=1, start_method=start_method
    )
    job = job_for_target(device_fault_target(), load=device_fault_target)
    (result,) = run_jobs([job], settings, tmp_path)
    assert result.error is None, result.error
    assert result.status is TargetStatus.PASSED  # a hazard-like target: detected
    assert [f.check for f in result.device_faults] == [CheckName.EXCEPTIONS]
    assert result.exceptions.status is CheckStatus.FAILED
    for check in (CheckName.FULLGRAPH, CheckName.RECOMPILES, CheckName.PARITY, CheckName.BREAKS):
        assert result.check(check).status is CheckStatus.PASSED, check


def test_reports_name_the_faulting_check_and_input():
    """The console's finding and report.md's table say which check and which input."""
    from reporting.audit_tables import device_faults_table
    from reporting.console import first_problem
    from reporting.schema.audit import AuditConfig, AuditRun, DeviceFault, TargetResult

    fault = DeviceFault(
        check=CheckName.EXCEPTIONS,
        input="negative input",
        error_type="AcceleratorError",
        message="CUDA error: device-side assert triggered",
        not_run=("zero input",),
    )
    target = TargetResult(
        name="hazard/x", group="hazard", status=TargetStatus.PASSED, device_faults=(fault,)
    )
    run = AuditRun(
        config=AuditConfig(backend="inductor", device="cuda"),
        targets=(target,),
    )
    assert any(
        "device fault in exceptions on negative input: CUDA error: device-side" in line
        for line in first_problem(target)
    )
    table = device_faults_table(run).markdown()
    assert "| hazard/x | exceptions | negative input | `AcceleratorError` |" in table
    assert "zero input" in table
