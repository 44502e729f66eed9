"""python -m benchmarks.run: eager vs compiled throughput, compile time and memory.

Parses flags into a RunConfig (the settings record the report keeps), runs it, writes the
run's report folder (report.json and its renders, summary.txt being the table printed),
and prints the table with speedups, CIs and goal verdicts. Bad usage exits 2 with one line.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import functools
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.ladders import build_ladder
from benchmarks.runner import run_benchmarks
from benchmarks.specs import select_specs
from foundation.cli import UsageError, UsageParser
from foundation.devices import DEVICES, local_cuda, resolve_device
from foundation.files import atomic_write_text
from reporting.publish import check_out_dir, publish_benchmarks
from reporting.rundir import RunDirExistsError
from reporting.schema.benchmark_settings import (
    DEFAULT_ROUNDS,
    CompileTimeScope,
    Ladder,
    MeasureConfig,
    OptimizerStep,
    RunConfig,
    SdpaKernel,
    WorkloadOptions,
    quick,
)
from reporting.schema.report import REPORT_JSON, report_to_json
from reporting.schema.vocabulary import CompileMode, Precision


def _positive_int(text: str) -> int:
    with contextlib.suppress(ValueError):
        if (value := int(text)) >= 1:
            return value
    raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="python -m benchmarks.run",
        description="Eager vs torch.compile throughput, compile time and memory of esper's hosts.",
    )
    add, flag = parser.add_argument, functools.partial(parser.add_argument, action="store_true")
    add(
        "--workloads",
        nargs="+",
        metavar="GLOB",
        default=[],
        help="globs over <family>/<task>/<variant>, e.g. 'cnn-small/*' or '*/train/bare' "
        "(default: the small sizes on CPU, all sizes on CUDA)",
    )
    add("--device", choices=DEVICES, default="auto", help="where to run (default: auto)")
    add(
        "--dtype",
        choices=[p.value for p in Precision],
        default="fp32",
        help="fp32, or bf16 autocast (default: fp32)",
    )
    add(
        "--mode",
        nargs="+",
        choices=[m.value for m in CompileMode if m.compiled],
        help="compiled modes to compare with eager "
        "(default: 'default', plus 'reduce-overhead' on CUDA)",
    )
    flag("--max-autotune", help="also compare mode='max-autotune' (slow to compile)")
    add(
        "--backend",
        choices=("inductor", "aot_eager", "eager"),
        default="inductor",
        help="torch.compile backend; only inductor measures real speed (default: inductor)",
    )
    add(
        "--rounds",
        type=_positive_int,
        default=DEFAULT_ROUNDS,
        help="interleaved rounds, each candidate once per round in a seeded random order "
        "(default: %(default)s)",
    )
    flag(
        "--quick",
        help="fast verdict: 5 short rounds, variants bare and dormant only, "
        "no cold/warm compile time, no memory",
    )
    add(
        "--compile-time",
        choices=[s.value for s in CompileTimeScope],
        default=CompileTimeScope.BARE.value,
        help="which compiled workloads get a cold- and a warm-cache compile timing "
        "(default: bare; 'all' adds a cold compile per seed variant)",
    )
    flag(
        "--pad-vocab",
        help="lever: round the transformer vocabulary up to a multiple of 64 "
        "(FLOPs are still counted on the unpadded vocabulary)",
    )
    add(
        "--optimizer",
        choices=[s.value for s in OptimizerStep],
        default=OptimizerStep.FOREACH.value,
        help="lever: AdamW step as torch's default (foreach), fused=True, or compiled "
        "(compiled candidates only; eager keeps the default) (default: foreach)",
    )
    flag(
        "--tf32", help="lever: fp32 matmuls on TF32 tensor cores, set around each step (CUDA only)"
    )
    flag(
        "--pure-bf16",
        help="lever: parameters stored in bf16 (combine with --dtype bf16 for autocast too)",
    )
    add(
        "--sdpa-kernel",
        choices=[k.value for k in SdpaKernel],
        default=SdpaKernel.AUTO.value,
        help="lever: allow only this scaled_dot_product_attention backend "
        "(flash, efficient, cudnn: CUDA only); the kernel that ran is recorded either way "
        "(default: auto)",
    )
    flag(
        "--freezing",
        help="inductor option: freezing (weights as constants; inference "
        "graphs only), scoped to each compiled module",
    )
    flag(
        "--no-weight-prepack",
        help="with --freezing: keep inductor from prepacking weights for oneDNN on CPU",
    )
    add(
        "--ladder",
        choices=[ladder.value for ladder in Ladder],
        help="instead of --mode: 'ablation' adds the levers one at a time to the first "
        "--mode; 'cpu-options' tries freezing, weight prepacking and max-autotune one at a "
        "time; rungs that cannot run on the device are reported as not applicable",
    )
    add(
        "--rungs",
        nargs="+",
        metavar="GLOB",
        default=[],
        help="with --ladder: measure only the rungs whose labels match, e.g. 'baseline' "
        "'+pad-vocab' (a cumulative rung still carries the levers above it), so one "
        "ladder can be measured over several short device runs (default: every rung)",
    )
    add("--threads", type=_positive_int, help="torch CPU threads (default: all visible CPUs)")
    add(
        "--out",
        type=Path,
        help="new or empty run directory for report.json and its renders (summary.txt, "
        "report.md, results.csv, the plots); default: reports/<UTC time>-<short sha>[-dirty]/",
    )
    flag("--list", help="print the selected workload names and exit")
    flag(
        "-v",
        "--verbose",
        help="progress on stderr even when it is not a terminal (a terminal always gets it)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    try:
        # Asking torch.cuda here is safe: the benchmarks run in this one process.
        device = resolve_device(args.device, local_cuda() if args.device != "cpu" else None)
        defaults = ["default", "reduce-overhead"] if device == "cuda" else ["default"]
        modes = [CompileMode.parse(value) for value in args.mode or defaults]
        if args.max_autotune and CompileMode.MAX_AUTOTUNE not in modes:
            modes.append(CompileMode.MAX_AUTOTUNE)
        if args.backend != "inductor" and modes != [CompileMode.DEFAULT]:
            raise ValueError(
                f"--backend {args.backend} supports only --mode default, "
                f"got {[m.value for m in modes]}"
            )
        options = WorkloadOptions(
            pad_vocab=args.pad_vocab,
            optimizer=OptimizerStep(args.optimizer),
            tf32=args.tf32,
            pure_bf16=args.pure_bf16,
            sdpa=SdpaKernel(args.sdpa_kernel),
            freezing=args.freezing,
            weight_prepack=not args.no_weight_prepack,
        )
        ladder = Ladder(args.ladder) if args.ladder is not None else None
        if args.rungs and ladder is None:
            raise ValueError("--rungs selects rungs of a --ladder; no --ladder was given")
        every = () if ladder is None else build_ladder(ladder, options, modes[0], device)
        globs = args.rungs or ["*"]
        rungs = tuple(r for r in every if any(fnmatch.fnmatchcase(r.label, g) for g in globs))
        if every and not rungs:
            raise ValueError(
                f"--rungs {args.rungs} match no rung; rungs are {[r.label for r in every]}"
            )
        measure = MeasureConfig(
            device=device,
            precision=Precision.parse(args.dtype),
            modes=tuple(modes),
            backend=args.backend,
            rounds=args.rounds,
            threads=args.threads,
            compile_time=CompileTimeScope(args.compile_time),
            options=options,
            ladder=ladder,
            rungs=rungs,
        )
        if args.quick:
            measure = quick(measure)
        select_specs(args.workloads, device)  # fail fast on a glob that matches nothing
    except ValueError as error:
        raise UsageError(str(error)) from None
    out = str(args.out) if args.out is not None else None
    return RunConfig(
        measure=measure,
        workloads=tuple(args.workloads),
        quick=args.quick,
        out=out,
        verbose=args.verbose,
    )


def main(config: RunConfig) -> int:
    show_progress = config.verbose or sys.stderr.isatty()
    progress = (lambda line: print(line, file=sys.stderr, flush=True)) if show_progress else None
    report = run_benchmarks(config, progress=progress)
    try:
        # reports/<UTC time>-<sha>/ (or --out): report.json first, then its renders
        out, summary = publish_benchmarks(report, Path(config.out) if config.out else None)
    except Exception:
        # Never lose a measured run to a reporting problem: keep the record, then fail.
        rescue = Path(tempfile.mkdtemp(prefix="esper-bench-")) / REPORT_JSON
        atomic_write_text(rescue, report_to_json(report))
        print(f"report failed; the run's report.json is kept in {rescue}", file=sys.stderr)
        raise
    print(summary, end="")
    assert report.benchmarks is not None  # run_benchmarks always measures
    return 1 if any(result.error is not None for result in report.benchmarks.results) else 0


def cli(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        config = config_from_args(args)
        check_out_dir(Path(config.out) if config.out is not None else None)
    except (UsageError, RunDirExistsError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    if args.list:
        for spec in select_specs(config.workloads, config.measure.device):
            print(spec.name)
        return 0
    return main(config)


if __name__ == "__main__":
    sys.exit(cli())
