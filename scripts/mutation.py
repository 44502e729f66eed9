"""Run cosmic-ray over each module group and write the kill rate per module and per group.

    python scripts/mutation.py                     # every group
    python scripts/mutation.py stats goals         # only these groups
    python scripts/mutation.py esper/kasmina/slot.py   # only this module
    python scripts/mutation.py --list              # the groups, modules and their tests
    python scripts/mutation.py --retest-survivors stats   # after adding tests: the
                                                   # survivors run again, the rest stand

GROUPS below names every module with its narrowest tests. For each module the script
writes a cosmic-ray config and session under reports/mutation/ (a session that exists is
resumed: only the mutants not run yet are run), the survivors with their diffs, and
reports/mutation/scores.md, which counts every session on disk, not only the ones this
call ran (so two calls on different modules can run side by side). A survivor that no
test can kill (an equivalent mutant) is argued by hand in reports/mutation/equivalents.md;
scores.md counts it as a survivor all the same.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "mutation"

# `-n 0`: one mutant's tests in one process; xdist's workers would cost more than they save.
# `-m 'not slow'`: the fast loop, which keeps one compile test per check and per lifecycle
# stage; the slow tests repeat those on more topologies and blueprints. Leaving them out
# can only add survivors, so the score is a lower bound, at a fraction of the time (the
# slot's tests: 45 s instead of 170 s per surviving mutant).
PYTEST = "python -m pytest -x -q -n 0 -p no:cacheprovider -m 'not slow'"

KASMINA = "tests/esper/kasmina"
SLOT_TESTS = (
    f"{KASMINA}/test_slot.py",
    f"{KASMINA}/test_original_api.py",
    f"{KASMINA}/test_lifecycle_stateful.py",
)
CHECK_TESTS = ("tests/audits/test_checks.py", "tests/audits/test_check_verdicts.py")

# group -> module -> its narrowest tests
GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "esper": {
        "esper/leyline/stages.py": ("tests/esper/leyline",),
        "esper/leyline/gates.py": ("tests/esper/leyline",),
        "esper/leyline/reports.py": ("tests/esper/leyline",),
        "esper/leyline/telemetry.py": ("tests/esper/leyline", *SLOT_TESTS),
        "esper/leyline/commands.py": ("tests/esper/leyline",),
        "esper/leyline/signals.py": ("tests/esper/leyline", *SLOT_TESTS),
        "esper/kasmina/errors.py": SLOT_TESTS,
        "esper/kasmina/protocol.py": (f"{KASMINA}/test_host.py",),
        "esper/kasmina/isolation.py": (f"{KASMINA}/test_isolation.py",),
        "esper/kasmina/state.py": (f"{KASMINA}/test_state_and_gates.py", *SLOT_TESTS),
        "esper/kasmina/gates.py": (f"{KASMINA}/test_state_and_gates.py",),
        "esper/kasmina/slot.py": (*SLOT_TESTS, f"{KASMINA}/test_compile.py"),
        "esper/kasmina/pace.py": SLOT_TESTS,
        "esper/kasmina/staging.py": (*SLOT_TESTS, f"{KASMINA}/test_compile.py"),
        "esper/kasmina/checkpoint.py": (f"{KASMINA}/test_checkpoint.py",),
        "esper/kasmina/host.py": (f"{KASMINA}/test_host.py",),
        "esper/kasmina/compile.py": (f"{KASMINA}/test_compile.py",),
        "esper/kasmina/blueprints/registry.py": (f"{KASMINA}/test_blueprints.py",),
        "esper/kasmina/blueprints/cnn.py": (f"{KASMINA}/test_blueprints.py",),
        "esper/kasmina/blueprints/transformer.py": (
            f"{KASMINA}/test_blueprints.py",
            f"{KASMINA}/test_flex_attention_seed.py",
        ),
        "esper/simic/features.py": (f"{KASMINA}/test_original_api.py",),
    },
    "checks": {
        **{
            f"audits/checks/{name}.py": CHECK_TESTS
            for name in ("fullgraph", "breaks", "recompiles", "parity", "exceptions", "common")
        },
        "audits/checks/shapes.py": ("tests/audits/checks/test_shapes.py",),
        "audits/checks/shape_sweep.py": ("tests/audits/checks/test_shapes.py",),
        "audits/checks/export.py": ("tests/audits/checks/test_export.py",),
        "audits/checks/cache.py": ("tests/audits/checks/test_cache.py",),
        "audits/checks/cudagraphs.py": ("tests/audits/checks/test_cudagraphs.py",),
        "audits/checks/torch_logs.py": (
            "tests/audits/checks/test_cache.py",
            "tests/audits/checks/test_cudagraphs.py",
        ),
        "audits/checks/benchmark.py": ("tests/audits/test_benchmark_size.py",),
        "audits/checks/device_fault.py": ("tests/audits/test_device_faults.py",),
        # Its rank launches are marked expensive (minutes each): the mutants meet the
        # in-process tests only, and what survives for that reason is said in the report.
        "audits/checks/distributed.py": ("tests/audits/test_distributed.py",),
    },
    "regressions": {"reporting/regressions.py": ("tests/audits/test_compare_logic.py",)},
    "stats": {"benchmarks/stats.py": ("tests/benchmarks/test_stats.py",)},
    "goals": {
        "benchmarks/goals.py": (
            "tests/benchmarks/test_goal_verdicts.py",
            "tests/benchmarks/test_results_goals.py",
        )
    },
}


def _slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def _config(module: str, tests: tuple[str, ...]) -> Path:
    path = OUT / f"{_slug(module)}.toml"
    path.write_text(
        "# Written by scripts/mutation.py: cosmic-ray over one module against its tests.\n"
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        "timeout = 600.0\n"
        "excluded-modules = []\n"
        f'test-command = "{PYTEST} {" ".join(tests)}"\n'
        "\n[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )
    return path


def _run(*argv: str) -> str:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def _tool(name: str) -> str:
    # cosmic-ray's console scripts sit beside the interpreter running this script.
    return str(Path(sys.executable).with_name(name))


def forget_survivors(session: Path) -> int:
    """Drop the session's results of surviving mutants, so the next exec runs them again."""
    with sqlite3.connect(session) as db:
        cursor = db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
        return cursor.rowcount


def mutate(module: str, tests: tuple[str, ...], retest: bool = False) -> None:
    """Run every mutant of one module that its session has not run yet."""
    config, session = _config(module, tests), OUT / f"{_slug(module)}.sqlite"
    if not session.exists():
        _run(_tool("cosmic-ray"), "init", str(config), str(session))
    elif retest:
        forget_survivors(session)
    _run(_tool("cosmic-ray"), "exec", str(config), str(session))


def score(module: str) -> tuple[int, int] | None:
    """(mutants, killed) of one module's session, or None where it has none yet; its
    surviving mutants, with their diffs, are written beside the session on the way."""
    session = OUT / f"{_slug(module)}.sqlite"
    if not session.exists():
        return None
    survivors = _run(_tool("cr-report"), "--show-diff", "--surviving-only", str(session))
    (OUT / f"{_slug(module)}-survivors.txt").write_text(survivors)
    counts = {"total jobs": 0, "complete": 0, "surviving mutants": 0}
    for line in _run(_tool("cr-report"), str(session)).splitlines():
        key, _, value = line.partition(":")
        if key in counts:
            counts[key] = int(value.split("(")[0])
    # A mutant that did not finish (timeout, interrupted run) counts as not killed.
    return counts["total jobs"], counts["complete"] - counts["surviving mutants"]


def _rate(killed: int, total: int) -> str:
    return f"{killed / total:.0%}" if total else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        help=f"groups ({', '.join(GROUPS)}) or modules to run (default: every group)",
    )
    parser.add_argument("--list", action="store_true", help="print the groups and exit")
    parser.add_argument(
        "--retest-survivors",
        action="store_true",
        help="run the surviving mutants of existing sessions again (after new tests)",
    )
    args = parser.parse_args(argv)
    modules = {m: tests for group in GROUPS.values() for m, tests in group.items()}
    group_of = {m: group for group, members in GROUPS.items() for m in members}
    if unknown := set(args.names) - set(GROUPS) - set(modules):
        valid = ", ".join(GROUPS)
        parser.error(f"unknown group(s) or module(s) {sorted(unknown)}; groups: {valid}")
    if args.list:
        for group, members in GROUPS.items():
            for module, tests in members.items():
                print(f"{group:12} {module:45} {' '.join(tests)}")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    chosen = [m for m in modules if not args.names or {m, group_of[m]} & set(args.names)]
    for module in chosen:
        mutate(module, modules[module], args.retest_survivors)
        print(module, "done", flush=True)
    table = scores_table()
    (OUT / "scores.md").write_text(table)
    print(table)
    return 0


def scores_table() -> str:
    """Markdown: each module's score and each group's, over the sessions on disk."""
    rows = ["| group | module | mutants | killed | score |", "| --- | --- | ---: | ---: | ---: |"]
    for group, members in GROUPS.items():
        group_total = group_killed = 0
        for module in members:
            counted = score(module)
            if counted is None:
                rows.append(f"| {group} | {module} | not run | | |")
                continue
            total, killed = counted
            group_total, group_killed = group_total + total, group_killed + killed
            rows.append(f"| {group} | {module} | {total} | {killed} | {_rate(killed, total)} |")
        rows.append(
            f"| **{group}** | all run | {group_total} | {group_killed} | "
            f"**{_rate(group_killed, group_total)}** |"
        )
    return "# Mutation scores (cosmic-ray)\n\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
