"""Run cosmic-ray over each module group in mutation/ and write the kill rate per module.

    python scripts/mutation.py                # every group
    python scripts/mutation.py stats goals    # only these

Each group is mutation/<name>.toml: a module and its narrowest tests. The sessions
(sqlite) and the survivors go to reports/mutation/, the scores to
reports/mutation/scores.md. An equivalent survivor is argued in that file by hand.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "mutation"
OUT = ROOT / "reports" / "mutation"


def _run(*argv: str) -> str:
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout


def _tool(name: str) -> str:
    # cosmic-ray's console scripts sit beside the interpreter running this script.
    return str(Path(sys.executable).with_name(name))


def score(name: str) -> tuple[str, int, int]:
    """(module, mutants, killed) for one group, running every mutant it has not run yet."""
    config = CONFIGS / f"{name}.toml"
    session = OUT / f"{name}.sqlite"
    if not session.exists():
        _run(_tool("cosmic-ray"), "init", str(config), str(session))
    _run(_tool("cosmic-ray"), "exec", str(config), str(session))
    survivors = _run(_tool("cr-report"), "--show-diff", "--surviving-only", str(session))
    (OUT / f"{name}-survivors.txt").write_text(survivors)
    report = _run(_tool("cr-report"), str(session))
    counts = {"total jobs": 0, "complete": 0, "surviving mutants": 0}
    for line in report.splitlines():
        key, _, value = line.partition(":")
        if key in counts:
            counts[key] = int(value.split("(")[0])
    # A mutant that did not finish (timeout, interrupted run) counts as not killed.
    total = counts["total jobs"]
    killed = counts["complete"] - counts["surviving mutants"]
    module = next(
        line.split("=", 1)[1].strip().strip('"')
        for line in config.read_text().splitlines()
        if line.startswith("module-path")
    )
    return module, total, killed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "groups", nargs="*", help="group names in mutation/ (default: every *.toml there)"
    )
    args = parser.parse_args(argv)
    groups = args.groups or sorted(p.stem for p in CONFIGS.glob("*.toml"))
    OUT.mkdir(parents=True, exist_ok=True)
    rows = ["| module | mutants | killed | score |", "| --- | ---: | ---: | ---: |"]
    for name in groups:
        module, total, killed = score(name)
        rate = f"{killed / total:.0%}" if total else "n/a"
        rows.append(f"| {module} | {total} | {killed} | {rate} |")
        print(rows[-1], flush=True)
    (OUT / "scores.md").write_text("# Mutation scores (cosmic-ray)\n\n" + "\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
