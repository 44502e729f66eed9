"""`python -m audits.run`: the torch.compile compatibility audit.

Exit codes: 0 when nothing named in --fail-on failed, 1 when something did
(or a target errored, timed out or crashed, or the run regressed against
--baseline), 2 for bad usage or a missing, corrupt or other-schema baseline,
130 after SIGINT (Ctrl-C) and 143 after SIGTERM. With --fail-on none only a
baseline regression, bad usage or a signal changes the exit code.

Each run writes its report directory (reporting): report.json, the one record, and
its renders summary.txt, report.md, results.csv and two PNGs; reports/latest points
at it.
An interrupted run writes the same files with the unfinished targets marked
"not run"; `--resume DIR` audits those and rewrites that folder's files.
"""

from __future__ import annotations

import fnmatch
import gc
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from audits.child import Job
from audits.options import parse_config, prog_name
from audits.torch_compat import missing_apis
from foundation.cli import UsageError
from reporting.schema.audit import AuditConfig, AuditRun, TargetStatus

if TYPE_CHECKING:
    from audits.progress import LineProgress, RichProgress
    from reporting.publish import BaselinePlan

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_SIGNAL_BASE = 128  # the shell's convention: 130 after SIGINT, 143 after SIGTERM


def select_jobs(config: AuditConfig, start_method: str = "fork") -> list[Job]:
    """Built-in, hazard and user targets named by the config, or UsageError."""
    from audits.catalog import BUILTIN, DISTRIBUTED, HAZARD, catalog_target, catalog_targets
    from audits.runner import error_in_child, job_for_target
    from audits.user_targets import build_user_target, resolve_factory

    def named(name: str, globs: Sequence[str]) -> bool:
        return any(fnmatch.fnmatchcase(name, glob) for glob in globs)

    catalogs = [
        (BUILTIN, not (config.user_targets or config.hazards) or bool(config.target_globs)),
        (HAZARD, config.hazards),
        (DISTRIBUTED, config.distributed),
    ]
    candidates = [(c, t) for c, on in catalogs if on for t in catalog_targets(c)]
    for glob in config.target_globs:
        if not any(named(t.name, [glob]) for _, t in candidates):
            names = ", ".join(t.name for _, t in candidates)
            hint = ""
            if not config.distributed and any(
                named(t.name, [glob]) for t in catalog_targets(DISTRIBUTED)
            ):
                hint = " (it names distributed targets: add --distributed)"
            raise UsageError(f"--targets {glob!r} matches no target{hint}; valid names: {names}")
    if config.target_globs:
        candidates = [(c, t) for c, t in candidates if named(t.name, config.target_globs)]
    # The child rebuilds its target by name: a Target does not pickle (forkserver, spawn).
    jobs = [job_for_target(t, load=partial(catalog_target, c, t.name)) for c, t in candidates]
    for spec in config.user_targets:
        # A typo is a usage error now, not a crash later. Imported in a child:
        # the parent must stay free of torch ops and CUDA (see audits.runner).
        problem = error_in_child(partial(resolve_factory, spec), start_method=start_method)
        if problem is not None:
            raise UsageError(problem)
        jobs.append(Job(name=spec, group="user", load=partial(build_user_target, spec)))
    return jobs


def _baseline_plan(
    config: AuditConfig, device: str, torch_version: str, device_name: str | None = None
) -> BaselinePlan | None:
    """Read the baseline before any target runs: a bad one costs a line, not an audit."""
    from reporting.baseline import baseline_device
    from reporting.publish import check_out_dir, prepare_baseline
    from reporting.rundir import RunDirExistsError
    from reporting.schema.report import ReportFormatError

    try:
        out = None if config.resume or config.out is None else Path(config.out)
        check_out_dir(out)  # resuming rewrites its own folder
        return prepare_baseline(
            config.baseline,
            update=config.update_baseline,
            device_kind=baseline_device(device, device_name),
            torch_version=torch_version,
            threshold=config.threshold,
        )
    except (ReportFormatError, RunDirExistsError) as exc:
        raise UsageError(str(exc)) from None


def main(config: AuditConfig) -> int:
    """Audit the configured targets, write the run's report, print its summary.

    SIGINT and SIGTERM stop the targets still running and the run writes what finished,
    the rest marked "not run", then exits 128 + the signal's number. With `config.resume`
    only the targets that run left "not run" are audited, into its folder.
    """
    import torch

    from audits.checks.common import CheckSettings
    from audits.child import RunnerSettings, preload_compile_stack
    from audits.resume import load_interrupted, merged_run, plan_resume, resume_flags
    from audits.runner import interrupts_caught, run_jobs
    from foundation.devices import probe_cuda, resolve_device, usable_cpus
    from foundation.environment import collect_environment
    from foundation.processes import choose_start_method, torch_has_gpu_support
    from reporting.console import interrupted_note
    from reporting.publish import publish_report
    from reporting.rundir import RunDirExistsError, claim_run_dir
    from reporting.schema.report import RunReport

    resumed = None if config.resume is None else Path(config.resume)
    if resumed is not None:
        recorded = load_interrupted(resumed, torch.__version__)
    try:
        start_method = choose_start_method(config.start_method, gpu_build=torch_has_gpu_support())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cuda = probe_cuda(start_method) if config.device != "cpu" else None
    device = resolve_device(config.device, cuda)
    jobs = select_jobs(config, start_method)
    if resumed is not None:
        assert recorded.audit is not None  # load_interrupted refuses a report without one
        resume = plan_resume(resumed, recorded.audit, [j.name for j in jobs])
        jobs = [jobs[i] for i in resume.positions]
    plan = _baseline_plan(config, device, torch.__version__, cuda.name if cuda else None)
    cpus = usable_cpus()
    parallel = config.jobs or (cpus if device == "cpu" else 1)
    threads = config.threads_per_job or max(1, cpus // parallel)
    # The record the report keeps: what was asked, with every "auto" resolved.
    config = replace(
        config, device=device, jobs=parallel, threads_per_job=threads, start_method=start_method
    )
    optional = ("shapes", "export", "cache", "cudagraphs")
    checks = CheckSettings(
        backend=config.backend,
        device=device,
        dtype=config.dtype.dtype,
        bench=config.bench,
        optional=frozenset(name for name in optional if getattr(config, name)),
    )
    settings = RunnerSettings(
        checks=checks,
        timeout_s=config.timeout_s,
        jobs=parallel,
        threads_per_job=threads,
        start_method=start_method,
    )
    started_at = datetime.now(timezone.utc)
    start = time.perf_counter()
    preload_compile_stack()
    # Children fork from here: freezing the parent's objects keeps their garbage
    # collectors from touching (and so copying) the pages they share with it.
    gc.freeze()
    # From the first child to the last file written, a signal is noted, not obeyed at
    # once: the children are killed and the report of what finished is still written.
    with interrupts_caught() as interrupt:
        sink = _progress_sink(len(jobs), config.verbose)
        with tempfile.TemporaryDirectory(prefix="audit-") as workdir, sink or nullcontext():
            results = run_jobs(jobs, settings, Path(workdir), sink, interrupt)
        if resumed is not None:
            run = merged_run(resume, results, time.perf_counter() - start)
            environment = recorded.environment
        else:
            run = AuditRun(
                config=config,
                targets=tuple(results),
                duration_s=time.perf_counter() - start,
                missing_apis=missing_apis(),
            )
            # Collected after the children finished, stamped with the run's start; the
            # CUDA device is the one the child probe saw (this process never asks CUDA).
            environment = collect_environment(device, cuda, started_at=started_at, threads=threads)
        partial_run = any(t.status is TargetStatus.NOT_RUN for t in run.targets)
        try:
            out = resumed or claim_run_dir(
                environment, None if config.out is None else Path(config.out)
            )
        except RunDirExistsError as exc:  # another run took --out while this one ran
            raise UsageError(str(exc)) from None
        # A partial report is neither a baseline nor comparable with one.
        published = publish_report(
            RunReport(environment=environment, audit=run),
            out,
            None if partial_run else plan,
            replace=resumed is not None,
            verbose=config.verbose,
        )
    if resumed is not None:
        sys.stderr.write(
            f"audits.run: resumed {out}: audited the {len(jobs)} target(s) it had not run "
            "and rewrote its files\n"
        )
    if interrupt.signum is not None or partial_run:
        sys.stderr.write(
            interrupted_note(
                run,
                out,
                signal_name=None
                if interrupt.signum is None
                else signal.Signals(interrupt.signum).name,
                resume_flags=resume_flags(config),
                baseline_skipped=partial_run and plan is not None,
            )
        )
    if interrupt.signum is not None:
        return EXIT_SIGNAL_BASE + interrupt.signum
    # --fail-on none surveys (another torch release, say): the report records every
    # failure, error, timeout and crash, and only a baseline regression fails the run.
    failed = run.failed_targets if config.fail_on else ()
    return max(EXIT_FAILED if failed else EXIT_OK, published.exit_code)


def _progress_sink(total: int, verbose: bool) -> RichProgress | LineProgress | None:
    """Live progress on a terminal; with -v elsewhere, a line per finished target."""
    from audits.progress import LineProgress, RichProgress

    if sys.stderr.isatty():
        try:
            return RichProgress(total)
        except ImportError:  # rich is in the [report] extra; fall back to plain lines
            return LineProgress()
    return LineProgress() if verbose else None


class _Terminated(Exception):
    """SIGTERM outside the audit itself (while targets are selected, say)."""


def _raise_terminated(_signum: int, _frame: object) -> None:
    raise _Terminated


def cli(argv: Sequence[str] | None = None) -> int:
    """`python -m audits.run` and the `esper-audit` script: parse argv, run, exit code."""
    prog = prog_name()
    # Error lines start with the command's short name: "audits.run: error: ..." or
    # "esper-audit: error: ...".
    short = prog.removeprefix("python -m ")
    # Before the first target starts and after the report is written, a signal has no
    # partial report to keep: it stops the run at once, with the exit code it implies.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return main(parse_config(argv, prog))
    except UsageError as exc:
        print(f"{short}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, _Terminated) as exc:
        signum = signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
        print(
            f"{short}: stopped by {signum.name} before any target ran; nothing was written",
            file=sys.stderr,
        )
        return EXIT_SIGNAL_BASE + signum
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(cli())
