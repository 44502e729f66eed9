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

import argparse
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
from audits.torch_compat import missing_apis
from foundation.cli import UsageError, UsageParser
from foundation.devices import DEVICES
from foundation.processes import AUTO as AUTO_START
from foundation.processes import START_METHODS
from reporting.schema.audit import BACKENDS, AuditConfig, AuditRun, FailOn, TargetStatus
from reporting.schema.vocabulary import Precision

if TYPE_CHECKING:
    from audits.progress import LineProgress, RichProgress
    from reporting.publish import BaselinePlan

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_SIGNAL_BASE = 128  # the shell's convention: 130 after SIGINT, 143 after SIGTERM
FAIL_ON_NONE = "none"  # --fail-on none: findings are reported, none fails the run
MODULE_PROG = "python -m audits.run"
# The console script installed with esper ([project.scripts] in pyproject.toml); it
# calls `cli` below, so both ways in take the same flags.
SCRIPT_PROG = "esper-audit"


def prog_name(argv0: str | None = None) -> str:
    """How the user started the audit (sys.argv[0] by default), for usage and error lines.

    The installed script's argv[0] is its own path (`.../bin/esper-audit`, or
    `esper-audit.exe` on Windows); `python -m audits.run` leaves the module's file path.
    """
    name = Path(sys.argv[0] if argv0 is None else argv0).stem
    return SCRIPT_PROG if name == SCRIPT_PROG else MODULE_PROG


# The on/off flags between --dtype and --timeout, in --help's order. A --no-X flag turns
# the setting X off; every other sets the setting of its own name.
_SWITCHES = {
    "--quick": "fast verdict: aot_eager backend and no benchmarks",
    "--no-bench": "skip the eager-vs-compiled benchmarks of host targets (inference and "
    "training step, 20 interleaved rounds each; for the full study run python -m "
    "benchmarks.run)",
    "--shapes": "also sweep each target's varying input dims (batch 2, 4, 8, 3, 1; sequence "
    "lengths 4, 8, 5 within the block size): compiles per new shape, when dynamic shapes "
    "take over, the guard behind each recompile, values that specialise, and the "
    "narrowest fix (mark_dynamic, dynamic=True, padding), proven by a rerun. Seconds per "
    "target, so off by default",
    "--export": "also torch.export each target, non-strict and strict: on failure what "
    "draft_export finds (data-dependent guards, missing fake kernels) with your line, on "
    "success the exported outputs against eager and the Python flags the export baked in",
    "--cache": "also compile each target (inductor only) in three fresh processes: cold on "
    "an empty TORCHINDUCTOR_CACHE_DIR, warm on the same one, and from the cold run's "
    "torch.compiler.save_cache_artifacts (mega-cache). Reports torch's FX graph and "
    "AOTAutograd cache hits and misses, cold vs warm compile time and what the mega-cache "
    "saves; a miss after the cold run fails, with torch's reason. Minutes per target on "
    "2 cores (raise --timeout, e.g. 900), so off by default",
    "--cudagraphs": "also run each target under reduce-overhead (CUDA only; 'not applicable' "
    "on cpu): whether CUDA graphs were recorded, each skip with torch's reason (mutated "
    "inputs, CPU tensors, dynamic shapes, incompatible ops) and the re-recordings over "
    "the target's scenario; a skip, no graph, or a recording in an alpha step fails",
    "--distributed": "also audit the distributed targets: both hosts with a seed in TRAINING "
    "wrapped in DistributedDataParallel (a 1 MiB bucket cap, so that DDPOptimizer splits "
    "the graph) and in FSDP2's fully_shard, each run as 2 ranks on CPU with gloo through "
    "torch.distributed.run: graphs per rank, bucket splits, recompiles, and parity of "
    "outputs and averaged gradients with eager. Tens of seconds per target, so off by "
    "default and refused with --quick",
    "--hazards": "audit the wrong-on-purpose modules in audits/hazards/ and check that each "
    "is flagged by the right check. Given alone, only the hazards are audited.",
}


def build_parser(prog: str = MODULE_PROG) -> argparse.ArgumentParser:
    """The parser; each flag's dest is the AuditConfig field it sets."""
    p = UsageParser(
        prog=prog,
        description="Audit torch.compile compatibility of esper's modules (and yours): "
        "fullgraph, graph breaks, recompiles, eager parity, exception parity, compile time. "
        "Exit 0 when nothing in --fail-on failed, 1 when something did or a target "
        "errored/timed out/crashed, 2 for bad usage, 130/143 when SIGINT/SIGTERM stopped "
        "the run (its partial report is kept; see --resume).",
    )
    add = p.add_argument
    add(
        "--targets",
        nargs="+",
        default=(),
        metavar="GLOB",
        dest="target_globs",
        help="audit only built-in targets whose name matches one of these globs, "
        "e.g. 'stage/cnn/*' 'host/*' (with --hazards or --distributed, their names too). "
        "Default: all.",
    )
    add(
        "--target",
        action="append",
        default=[],
        metavar="MOD:FACTORY",
        dest="user_targets",
        help="audit your own module: package.module:factory, where factory() returns an "
        "audits Target or a (module, example_inputs) pair. Repeatable. Given alone, only "
        "these are audited.",
    )
    add(
        "--backend",
        choices=BACKENDS,
        help="torch.compile backend for the checks (default inductor; aot_eager with --quick)",
    )
    add(
        "--device",
        choices=DEVICES,
        default="auto",
        help="where modules run: cuda when available with auto (default auto)",
    )
    add(
        "--dtype",
        choices=tuple(p.value for p in Precision),
        default="fp32",
        help="floating-point dtype of modules and inputs; parity tolerances follow it "
        "(default fp32)",
    )
    for flag, text in _SWITCHES.items():
        off = flag.startswith("--no-")
        add(
            flag,
            action="store_false" if off else "store_true",
            dest=flag[2:].removeprefix("no-"),
            help=text,
        )
    add(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        dest="timeout_s",
        help="seconds each target may run in its subprocess before it is killed and "
        "recorded as timeout (default 300)",
    )
    add(
        "--jobs",
        type=int,
        metavar="N",
        help="targets audited in parallel, one subprocess each "
        "(default: CPU cores on cpu, 1 on cuda)",
    )
    add(
        "--start-method",
        choices=(AUTO_START, *START_METHODS),
        default=AUTO_START,
        help="how each target's subprocess starts: auto (default) forks on a CPU-only build "
        "of torch and uses a forkserver on a CUDA build, where a forked child cannot use "
        "CUDA once the parent touched it; fork is refused on a CUDA build",
    )
    add(
        "--out",
        type=Path,
        metavar="DIR",
        help="run directory for report.json and its renders; must be new or empty "
        "(default reports/<UTC time>-<short sha>[-dirty])",
    )
    add(
        "--resume",
        type=Path,
        metavar="DIR",
        help="finish the interrupted run in DIR: audit only its targets marked 'not run', "
        "with the settings it recorded (flags that contradict them are refused), and "
        "rewrite that run's own files. Ctrl-C or SIGTERM stops a run, keeps what "
        "finished in its folder and exits 130 or 143; a complete run, or a folder that "
        "is not a run, is refused with exit 2",
    )
    add(
        "--fail-on",
        default=",".join(f.value for f in FailOn),
        metavar="LIST",
        help="comma-separated checks whose failure makes the exit code 1: "
        "breaks (includes fullgraph), recompiles, parity, exceptions, shapes, export, cache, "
        "cudagraphs, distributed (default: all; the last five count only with their own "
        "flags); "
        "'none' alone: exit 0 whatever the targets show, failed checks and targets that "
        "errored, timed out or crashed being recorded in the report only (to survey another "
        "torch release)",
    )
    add(
        "-v",
        "--verbose",
        action="store_true",
        help="print every finding (not only the first of each failing target) and, "
        "without a terminal, one line per finished target",
    )
    add(
        "--baseline",
        metavar="FILE",
        help="compare with a baseline report.json and exit 1 on a regression (new breaks, more "
        "recompiles, parity or exception-parity loss, a significant slowdown); 'auto' is "
        "reports/baseline/<device>-torch<version>.json, where <device> is cpu, or on CUDA "
        "cuda-<class> (hopper, ampere, ada, blackwell; plain cuda for an unlisted GPU), "
        "else the CPU one",
    )
    add(
        "--update-baseline",
        action="store_true",
        help="write this run's report as the baseline (--baseline FILE, or the 'auto' file) "
        "instead of comparing with it; the only way a baseline changes",
    )
    add(
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


def _flags_given(argv: Sequence[str] | None) -> dict[str, str]:
    """The flags on the command line itself, defaults aside: AuditConfig field -> flag."""
    parser = build_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    given = vars(parser.parse_args(argv))
    return {a.dest: a.option_strings[-1] for a in parser._actions if a.dest in given}


def parse_config(argv: Sequence[str] | None, prog: str = MODULE_PROG) -> AuditConfig:
    args = vars(build_parser(prog).parse_args(argv))
    quick, backend = args["quick"], args["backend"]
    if quick and backend not in (None, "aot_eager"):
        raise UsageError(f"--quick runs aot_eager; drop --backend {backend} or --quick")
    if quick and args["distributed"]:
        raise UsageError(
            "--distributed launches 2 ranks per target and is not part of the --quick "
            "verdict; drop --quick (add --backend aot_eager --no-bench for a fast run) "
            "or --distributed"
        )
    args.update(
        target_globs=tuple(args["target_globs"]),
        user_targets=tuple(args["user_targets"]),
        backend="aot_eager" if quick else (backend or "inductor"),
        dtype=Precision(args["dtype"]),
        bench=args["bench"] and not quick,
        fail_on=_fail_on(args["fail_on"]),
        out=None if args["out"] is None else str(args["out"]),
        resume=None if args["resume"] is None else str(args["resume"]),
    )
    config = AuditConfig(**args)
    if config.resume is None:
        return config
    from audits.resume import resumed_config

    return resumed_config(config, _flags_given(argv))


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
    from audits.resume import load_interrupted, merged_run, plan_resume, resume_flags
    from audits.runner import RunnerSettings, interrupts_caught, preload_compile_stack, run_jobs
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
