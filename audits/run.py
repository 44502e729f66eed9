"""`python -m audits.run`: the torch.compile compatibility audit.

Exit codes: 0 when nothing named in --fail-on failed, 1 when something did
(or a target errored, timed out or crashed, or the run regressed against
--baseline), 2 for bad usage or a missing, corrupt or other-schema baseline,
130 after SIGINT (Ctrl-C) and 143 after SIGTERM. With --fail-on none only a
baseline regression, bad usage or a signal changes the exit code.

Each run writes its report directory (audits.report): audit.json, summary.txt,
report.md, report.json, results.csv and two PNGs, and points reports/latest at it.
An interrupted run writes the same files with the unfinished targets marked
"not run"; `--resume DIR` audits those and rewrites that folder's files.
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from audits.child import Job
from audits.cli import UsageError, UsageParser
from audits.results import FailOn, RunResult, RunSettings, TargetStatus
from audits.start_method import AUTO as AUTO_START
from audits.start_method import START_METHODS

if TYPE_CHECKING:
    from audits.environment import CudaDevice
    from audits.report.publish import BaselinePlan

BACKENDS = ("eager", "aot_eager", "inductor")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"fp32": "float32", "bf16": "bfloat16"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_SIGNAL_BASE = 128  # the shell's convention: 130 after SIGINT, 143 after SIGTERM
FAIL_ON_NONE = "none"  # --fail-on none: findings are reported, none fails the run


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    target_globs: tuple[str, ...] = ()  # built-in (and hazard) names to keep; empty keeps all
    user_targets: tuple[str, ...] = ()  # package.module:factory specs
    backend: str = "inductor"
    device: str = "auto"
    dtype: str = "fp32"
    quick: bool = False
    bench: bool = True  # eager-vs-compiled throughput of the host targets
    hazards: bool = False
    timeout_s: float = 300.0
    jobs: int | None = None  # None: one per CPU core on cpu, 1 on cuda
    out: Path | None = None  # None: reports/<UTC time>-<short sha>[-dirty]
    fail_on: tuple[FailOn, ...] = tuple(FailOn)  # empty: --fail-on none
    verbose: bool = False
    baseline: str | None = None  # FILE, or "auto": reports/baseline/<device>-torch<version>.json
    update_baseline: bool = False  # write this run's report as the baseline instead of comparing
    threshold: float = 0.10  # relative speedup drop that is a regression (if outside both CIs)
    start_method: str = "auto"  # how children start; auto: fork on a CPU build, else forkserver
    resume: Path | None = None  # an interrupted run's folder: audit its "not run" targets there

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UsageError(
                f"--backend {self.backend!r}: valid backends are {', '.join(BACKENDS)}"
            )
        if self.device not in DEVICES:
            raise UsageError(f"--device {self.device!r}: valid devices are {', '.join(DEVICES)}")
        if self.dtype not in DTYPES:
            raise UsageError(f"--dtype {self.dtype!r}: valid dtypes are {', '.join(DTYPES)}")
        if not self.timeout_s > 0:
            raise UsageError(f"--timeout {self.timeout_s!r}: must be a number of seconds > 0")
        if self.jobs is not None and self.jobs < 1:
            raise UsageError(f"--jobs {self.jobs!r}: must be an integer >= 1")
        if self.start_method not in (AUTO_START, *START_METHODS):
            raise UsageError(
                f"--start-method {self.start_method!r}: valid methods are "
                f"{', '.join((AUTO_START, *START_METHODS))}"
            )
        if not 0.0 < self.threshold < 1.0:
            raise UsageError(
                f"--threshold {self.threshold!r}: must be a fraction in (0, 1), e.g. 0.10"
            )


def build_parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="python -m audits.run",
        description="Audit torch.compile compatibility of esper's modules (and yours): "
        "fullgraph, graph breaks, recompiles, eager parity, exception parity, compile time. "
        "Exit 0 when nothing in --fail-on failed, 1 when something did or a target "
        "errored/timed out/crashed, 2 for bad usage, 130/143 when SIGINT/SIGTERM stopped "
        "the run (its partial report is kept; see --resume).",
    )
    p.add_argument(
        "--targets",
        nargs="+",
        default=[],
        metavar="GLOB",
        help="audit only built-in targets whose name matches one of these globs, "
        "e.g. 'stage/cnn/*' 'host/*' (with --hazards, hazard names too). Default: all.",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="MOD:FACTORY",
        help="audit your own module: package.module:factory, where factory() returns an "
        "audits Target or a (module, example_inputs) pair. Repeatable. Given alone, only "
        "these are audited.",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="torch.compile backend for the checks (default inductor; aot_eager with --quick)",
    )
    p.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help="where modules run: cuda when available with auto (default auto)",
    )
    p.add_argument(
        "--dtype",
        choices=tuple(DTYPES),
        default="fp32",
        help="floating-point dtype of modules and inputs; parity tolerances follow it "
        "(default fp32)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="fast verdict: aot_eager backend and no benchmarks",
    )
    p.add_argument(
        "--no-bench",
        action="store_true",
        help=(
            "skip the eager-vs-compiled benchmarks of host targets (inference and training "
            "step, 20 interleaved rounds each; for the full study run python -m benchmarks.run)"
        ),
    )
    p.add_argument(
        "--hazards",
        action="store_true",
        help="audit the wrong-on-purpose modules in audits/hazards/ and check that each is "
        "flagged by the right check. Given alone, only the hazards are audited.",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds each target may run in its subprocess before it is killed and "
        "recorded as timeout (default 300)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="targets audited in parallel, one subprocess each "
        "(default: CPU cores on cpu, 1 on cuda)",
    )
    p.add_argument(
        "--start-method",
        choices=(AUTO_START, *START_METHODS),
        default=AUTO_START,
        help="how each target's subprocess starts: auto (default) forks on a CPU-only build "
        "of torch and uses a forkserver on a CUDA build, where a forked child cannot use "
        "CUDA once the parent touched it; fork is refused on a CUDA build",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="run directory for audit.json, summary.txt and the report; must be new or empty "
        "(default reports/<UTC time>-<short sha>[-dirty])",
    )
    p.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="DIR",
        help="finish the interrupted run in DIR: audit only its targets marked 'not run', "
        "with the settings it recorded (flags that contradict them are refused), and "
        "rewrite that run's own files. Ctrl-C or SIGTERM stops a run, keeps what "
        "finished in its folder and exits 130 or 143; a complete run, or a folder that "
        "is not a run, is refused with exit 2",
    )
    p.add_argument(
        "--fail-on",
        default=",".join(f.value for f in FailOn),
        metavar="LIST",
        help="comma-separated checks whose failure makes the exit code 1: "
        "breaks (includes fullgraph), recompiles, parity, exceptions (default: all four); "
        "'none' alone: exit 0 whatever the targets show, failed checks and targets that "
        "errored, timed out or crashed being recorded in the report only (to survey another "
        "torch release)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print every finding (not only the first of each failing target) and, "
        "without a terminal, one line per finished target",
    )
    p.add_argument(
        "--baseline",
        default=None,
        metavar="FILE",
        help="compare with a baseline report.json and exit 1 on a regression (new breaks, more "
        "recompiles, parity or exception-parity loss, a significant slowdown); 'auto' is "
        "reports/baseline/<device>-torch<version>.json, where <device> is cpu, or on CUDA "
        "cuda-<class> (hopper, ampere, ada, blackwell; plain cuda for an unlisted GPU), "
        "else the CPU one",
    )
    p.add_argument(
        "--update-baseline",
        action="store_true",
        help="write this run's report as the baseline (--baseline FILE, or the 'auto' file) "
        "instead of comparing with it; the only way a baseline changes",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.10,
        metavar="F",
        help="with --baseline: a speedup drop larger than this fraction, and outside both "
        "95%% CIs, is a regression (default 0.10)",
    )
    return p


def _fail_on(text: str) -> tuple[FailOn, ...]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == [FAIL_ON_NONE]:
        return ()
    valid = ", ".join(f.value for f in FailOn)
    bad = [n for n in names if n not in {f.value for f in FailOn}]
    if bad or not names:
        raise UsageError(
            f"--fail-on {text!r}: valid names are {valid} (comma-separated), "
            f"or {FAIL_ON_NONE} alone"
        )
    return tuple(FailOn(n) for n in dict.fromkeys(names))


def _flags_given(argv: Sequence[str] | None) -> set[str]:
    """The dests of the flags on the command line itself, defaults aside."""
    parser = build_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def parse_config(argv: Sequence[str] | None) -> RunConfig:
    args = build_parser().parse_args(argv)
    if args.quick and args.backend not in (None, "aot_eager"):
        raise UsageError(f"--quick runs aot_eager; drop --backend {args.backend} or --quick")
    backend = "aot_eager" if args.quick else (args.backend or "inductor")
    config = RunConfig(
        target_globs=tuple(args.targets),
        user_targets=tuple(args.target),
        backend=backend,
        device=args.device,
        dtype=args.dtype,
        quick=args.quick,
        bench=not (args.quick or args.no_bench),
        hazards=args.hazards,
        timeout_s=args.timeout,
        jobs=args.jobs,
        out=args.out,
        fail_on=_fail_on(args.fail_on),
        verbose=args.verbose,
        baseline=args.baseline,
        update_baseline=args.update_baseline,
        threshold=args.threshold,
        start_method=args.start_method,
        resume=args.resume,
    )
    if config.resume is None:
        return config
    from audits.resume import resumed_config

    return resumed_config(config, _flags_given(argv))


def select_jobs(config: RunConfig, start_method: str = "fork") -> list[Job]:
    """Built-in, hazard and user targets named by the config, or UsageError."""
    from audits.catalog import BUILTIN, HAZARD, catalog_target
    from audits.runner import error_in_child, job_for_target
    from audits.targets import Target
    from audits.user_targets import build_user_target, resolve_factory

    candidates: list[tuple[str, Target]] = []
    if not (config.user_targets or config.hazards) or config.target_globs:
        from audits.builtin_targets import builtin_targets

        candidates.extend((BUILTIN, t) for t in builtin_targets())
    if config.hazards:
        from audits.hazards import hazard_targets

        candidates.extend((HAZARD, t) for t in hazard_targets())
    chosen = candidates
    if config.target_globs:
        for glob in config.target_globs:
            if not any(fnmatch.fnmatchcase(t.name, glob) for _, t in candidates):
                names = ", ".join(t.name for _, t in candidates)
                raise UsageError(f"--targets {glob!r} matches no target; valid names: {names}")
        chosen = [
            (c, t)
            for c, t in candidates
            if any(fnmatch.fnmatchcase(t.name, g) for g in config.target_globs)
        ]
    # The child rebuilds its target by name: a Target does not pickle (forkserver, spawn).
    jobs = [job_for_target(t, load=partial(catalog_target, c, t.name)) for c, t in chosen]
    for spec in config.user_targets:
        # A typo is a usage error now, not a crash later. Imported in a child:
        # the parent must stay free of torch ops and CUDA (see audits.runner).
        problem = error_in_child(partial(resolve_factory, spec), start_method=start_method)
        if problem is not None:
            raise UsageError(problem)
        jobs.append(Job(name=spec, group="user", load=partial(build_user_target, spec)))
    return jobs


def _start_method(requested: str) -> str:
    from audits.start_method import choose_start_method, torch_has_gpu_support

    try:
        return choose_start_method(requested, gpu_build=torch_has_gpu_support())
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _device(requested: str, cuda: CudaDevice | None) -> str:
    if requested == "cuda" and cuda is None:
        raise UsageError("--device cuda: CUDA is not available here; valid devices: auto, cpu")
    if requested == "auto":
        return "cuda" if cuda is not None else "cpu"
    return requested


def _baseline_plan(
    config: RunConfig, device: str, torch_version: str, device_name: str | None = None
) -> BaselinePlan | None:
    """Read the baseline before any target runs: a bad one costs a line, not an audit."""
    from audits.report.baseline import baseline_device
    from audits.report.document import ReportFormatError
    from audits.report.publish import check_out_dir, prepare_baseline
    from audits.report.rundir import RunDirExistsError

    try:
        check_out_dir(None if config.resume else config.out)  # resuming rewrites its own
        return prepare_baseline(
            config.baseline,
            update=config.update_baseline,
            device_kind=baseline_device(device, device_name),
            torch_version=torch_version,
            threshold=config.threshold,
        )
    except (ReportFormatError, RunDirExistsError) as exc:
        raise UsageError(str(exc)) from None


def main(config: RunConfig) -> int:
    """Audit the configured targets, write audit.json and summary.txt, print the summary.

    SIGINT and SIGTERM stop the targets still running and the run writes what finished,
    the rest marked "not run", then exits 128 + the signal's number. With `config.resume`
    only the targets that run left "not run" are audited, into its folder.
    """
    import torch

    from audits.checks.common import CheckSettings
    from audits.console import interrupted_note, render
    from audits.environment import collect_environment, probe_cuda, usable_cpus
    from audits.progress import LineProgress, RichProgress
    from audits.report.atomic import atomic_write_text
    from audits.report.publish import audit_report, publish_report
    from audits.report.rundir import RunDirExistsError, claim_run_dir
    from audits.resume import (
        ResumePlan,
        check_same_torch,
        load_interrupted,
        merged_run,
        plan_resume,
        resume_flags,
    )
    from audits.runner import RunnerSettings, interrupts_caught, preload_compile_stack, run_jobs

    resume: ResumePlan | None = None
    if config.resume is not None:
        recorded = load_interrupted(config.resume)
        check_same_torch(config.resume, recorded, torch.__version__)
    start_method = _start_method(config.start_method)
    cuda = probe_cuda(start_method) if config.device != "cpu" else None
    device = _device(config.device, cuda)
    jobs = select_jobs(config, start_method)
    if config.resume is not None:
        resume = plan_resume(config.resume, recorded, [j.name for j in jobs])
        jobs = [jobs[i] for i in resume.positions]
    plan = _baseline_plan(config, device, torch.__version__, cuda.name if cuda else None)
    cpus = usable_cpus()
    parallel = config.jobs or (cpus if device == "cpu" else 1)
    threads = resume.recorded.settings.threads_per_job if resume else max(1, cpus // parallel)
    settings = RunnerSettings(
        checks=CheckSettings(
            backend=config.backend,
            device=device,
            dtype=getattr(torch, DTYPES[config.dtype]),
            bench=config.bench,
        ),
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
    sink: RichProgress | LineProgress | None = None
    if sys.stderr.isatty():
        try:
            sink = RichProgress(len(jobs))
        except ImportError:  # rich is in the [report] extra; fall back to plain lines
            sink = LineProgress()
    elif config.verbose:
        sink = LineProgress()
    # From the first child to the last file written, a signal is noted, not obeyed at
    # once: the children are killed and the report of what finished is still written.
    with interrupts_caught() as interrupt:
        with tempfile.TemporaryDirectory(prefix="audit-") as workdir:
            if sink is None:
                results = run_jobs(jobs, settings, Path(workdir), interrupt=interrupt)
            else:
                with sink:
                    results = run_jobs(jobs, settings, Path(workdir), sink, interrupt)
        if resume is not None:
            run = merged_run(resume, results, time.perf_counter() - start)
        else:
            run = RunResult(
                environment=collect_environment(device, started_at, cuda),
                settings=RunSettings(
                    backend=config.backend,
                    device=device,
                    dtype=config.dtype,
                    quick=config.quick,
                    bench=config.bench,
                    hazards=config.hazards,
                    timeout_s=config.timeout_s,
                    jobs=parallel,
                    threads_per_job=settings.threads_per_job,
                    start_method=start_method,
                    fail_on=config.fail_on,
                    target_globs=config.target_globs,
                    user_targets=config.user_targets,
                ),
                targets=tuple(results),
                duration_s=time.perf_counter() - start,
            )
        partial = any(t.status is TargetStatus.NOT_RUN for t in run.targets)
        cuda_device = (cuda.name, cuda.capability) if device == "cuda" and cuda else None
        report = audit_report(run, threads=settings.threads_per_job, cuda_device=cuda_device)
        if config.resume is not None:
            out = config.resume
        else:
            try:
                out = claim_run_dir(report.environment, config.out)
            except RunDirExistsError as exc:  # another run took --out while this one ran
                raise UsageError(str(exc)) from None
        path = run.write(out)
        text = render(run, str(path), verbose=config.verbose)
        atomic_write_text(out / "summary.txt", text)
        sys.stdout.write(text)
        # A partial report is neither a baseline nor comparable with one.
        published = publish_report(
            report, out, None if partial else plan, replace=resume is not None
        )
    if config.resume is not None:
        sys.stderr.write(
            f"audits.run: resumed {out}: audited the {len(jobs)} target(s) it had not run "
            "and rewrote its files\n"
        )
    if interrupt.signum is not None or partial:
        note = interrupted_note(
            run,
            out,
            signal_name=None if interrupt.signum is None else signal.Signals(interrupt.signum).name,
            resume_flags=resume_flags(config),
            baseline_skipped=partial and plan is not None,
        )
        sys.stderr.write(note)
    if interrupt.signum is not None:
        return EXIT_SIGNAL_BASE + interrupt.signum
    # --fail-on none surveys (another torch release, say): the report records every
    # failure, error, timeout and crash, and only a baseline regression fails the run.
    failed = run.failed_targets if config.fail_on else ()
    return max(EXIT_FAILED if failed else EXIT_OK, published.exit_code)


class _Terminated(Exception):
    """SIGTERM outside the audit itself (while targets are selected, say)."""


def _raise_terminated(_signum: int, _frame: object) -> None:
    raise _Terminated


def cli(argv: Sequence[str] | None = None) -> int:
    # Before the first target starts and after the report is written, a signal has no
    # partial report to keep: it stops the run at once, with the exit code it implies.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return main(parse_config(argv))
    except UsageError as exc:
        print(f"audits.run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, _Terminated) as exc:
        signum = signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
        print(
            f"audits.run: stopped by {signum.name} before any target ran; nothing was written",
            file=sys.stderr,
        )
        return EXIT_SIGNAL_BASE + signum
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(cli())
