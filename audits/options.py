"""The audit's command line: its flags, their help, and the AuditConfig they make.

`build_parser` is what `--help` prints; `parse_config` turns argv into the one settings
record of a run (AuditConfig), refusing contradictions with a UsageError that names the
flags, and, with --resume, reading the interrupted run's own settings back.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from foundation.cli import UsageError, UsageParser
from foundation.devices import DEVICES
from foundation.processes import AUTO as AUTO_START
from foundation.processes import START_METHODS
from reporting.schema.audit import BACKENDS, AuditConfig, FailOn
from reporting.schema.vocabulary import Precision

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


# Each flag's argparse settings, in --help's order; its dest is the AuditConfig field it
# sets (a --no-X flag turns the setting X off).
_FLAGS: dict[str, dict[str, Any]] = {
    "--targets": dict(nargs="+", default=(), metavar="GLOB", dest="target_globs"),
    "--target": dict(action="append", default=[], metavar="MOD:FACTORY", dest="user_targets"),
    "--backend": dict(choices=BACKENDS),
    "--device": dict(choices=DEVICES, default="auto"),
    "--dtype": dict(choices=tuple(p.value for p in Precision), default="fp32"),
    "--quick": dict(action="store_true"),
    "--no-bench": dict(action="store_false", dest="bench"),
    "--shapes": dict(action="store_true"),
    "--export": dict(action="store_true"),
    "--cache": dict(action="store_true"),
    "--cudagraphs": dict(action="store_true"),
    "--distributed": dict(action="store_true"),
    "--hazards": dict(action="store_true"),
    "--timeout": dict(type=float, default=300.0, metavar="S", dest="timeout_s"),
    "--jobs": dict(type=int, metavar="N"),
    "--start-method": dict(choices=(AUTO_START, *START_METHODS), default=AUTO_START),
    "--out": dict(type=Path, metavar="DIR"),
    "--resume": dict(type=Path, metavar="DIR"),
    "--fail-on": dict(default=",".join(f.value for f in FailOn), metavar="LIST"),
    "-v --verbose": dict(action="store_true"),
    "--baseline": dict(metavar="FILE"),
    "--update-baseline": dict(action="store_true"),
    "--threshold": dict(type=float, default=0.10, metavar="F"),
}
_HELP = {
    "--targets": "audit only built-in targets whose name matches one of these globs, e.g. "
    "'stage/cnn/*' 'host/*' (with --hazards or --distributed, their names too). Default: all.",
    "--target": "audit your own module: package.module:factory, where factory() returns an "
    "audits Target or a (module, example_inputs) pair. Repeatable. Given alone, only these "
    "are audited.",
    "--backend": "torch.compile backend for the checks (default inductor; aot_eager with --quick)",
    "--device": "where modules run: cuda when available with auto (default auto)",
    "--dtype": "floating-point dtype of modules and inputs; parity tolerances follow it "
    "(default fp32)",
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
    "--timeout": "seconds each target may run in its subprocess before it is killed and "
    "recorded as timeout (default 300)",
    "--jobs": "targets audited in parallel, one subprocess each (default: CPU cores on cpu, "
    "1 on cuda)",
    "--start-method": "how each target's subprocess starts: auto (default) forks on a "
    "CPU-only build of torch and uses a forkserver on a CUDA build, where a forked child "
    "cannot use CUDA once the parent touched it; fork is refused on a CUDA build",
    "--out": "run directory for report.json and its renders; must be new or empty (default "
    "reports/<UTC time>-<short sha>[-dirty])",
    "--resume": "finish the interrupted run in DIR: audit only its targets marked 'not run', "
    "with the settings it recorded (flags that contradict them are refused), and rewrite "
    "that run's own files. Ctrl-C or SIGTERM stops a run, keeps what finished in its "
    "folder and exits 130 or 143; a complete run, or a folder that is not a run, is "
    "refused with exit 2",
    "--fail-on": "comma-separated checks whose failure makes the exit code 1: breaks "
    "(includes fullgraph), recompiles, parity, exceptions, shapes, export, cache, "
    "cudagraphs, distributed (default: all; the last five count only with their own "
    "flags); 'none' alone: exit 0 whatever the targets show, failed checks and targets "
    "that errored, timed out or crashed being recorded in the report only (to survey "
    "another torch release)",
    "-v --verbose": "print every finding (not only the first of each failing target) and, "
    "without a terminal, one line per finished target",
    "--baseline": "compare with a baseline report.json and exit 1 on a regression (new "
    "breaks, more recompiles, parity or exception-parity loss, a significant slowdown); "
    "'auto' is reports/baseline/<device>-torch<version>.json, where <device> is cpu, or on "
    "CUDA cuda-<class> (hopper, ampere, ada, blackwell; plain cuda for an unlisted GPU), "
    "else the CPU one",
    "--update-baseline": "write this run's report as the baseline (--baseline FILE, or the "
    "'auto' file) instead of comparing with it; the only way a baseline changes",
    "--threshold": "with --baseline: a speedup drop larger than this fraction, and outside "
    "both 95%% CIs, is a regression (default 0.10)",
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
    for flag, settings in _FLAGS.items():
        p.add_argument(*flag.split(), help=_HELP[flag], **settings)
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
