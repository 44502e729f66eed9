"""examples/README.md: each command, run for real, prints the verdicts the file shows."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "examples" / "README.md"

# A ```bash block holding one audit command, then the ```text block with what it printed.
_EXAMPLE = re.compile(
    r"```bash\n(?P<command>python -m audits\.run [^\n]+)\n```\s*```text\n(?P<output>.*?)\n```",
    re.DOTALL,
)
# Example modules that import an optional package, and that package.
_NEEDS = {"examples.hf_gpt2": "transformers"}
# The console table's columns compared; timings, parity errors and paths vary by run.
_VERDICT_COLUMNS = ("status", "fullgraph", "graphs", "breaks", "compiles/budget")
_BREAK = re.compile(r"^\s+graph break(?: \[(?P<code>GB\d+)\])?: (?P<type>.+)$")
EXIT_OK, EXIT_FAILED = 0, 1


@dataclass(frozen=True, slots=True)
class Verdicts:
    rows: dict[str, dict[str, str]]  # target -> the compared columns of its table row
    breaks: tuple[tuple[str | None, str], ...]  # (GB code, break type) as printed, in order


def parse_verdicts(output: str) -> Verdicts:
    """The compared parts of audits.run's console output (audits/console.py renders it)."""
    lines = output.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("target ")), None)
    if header is None:
        raise ValueError(f"no summary table (a line starting 'target ') in:\n{output}")
    columns = re.split(r"\s{2,}", lines[header].strip())
    rows: dict[str, dict[str, str]] = {}
    for line in lines[header + 2 :]:  # past the header and its dashes
        if not line.strip():
            break
        cells = dict(zip(columns, re.split(r"\s{2,}", line.strip()), strict=True))
        rows[cells["target"]] = {c: cells[c] for c in _VERDICT_COLUMNS}
    breaks = tuple(
        (m["code"], m["type"]) for m in map(_BREAK.match, lines[header + 2 :]) if m is not None
    )
    return Verdicts(rows=rows, breaks=breaks)


def _examples() -> list[tuple[str, str]]:
    found = [(m["command"], m["output"]) for m in _EXAMPLE.finditer(README.read_text())]
    if not found:
        raise AssertionError(f"{README}: no ```bash audit command followed by its ```text output")
    return found


def _skip_without_optional_package(command: str) -> None:
    for module, package in _NEEDS.items():
        if f"{module}:" in command and importlib.util.find_spec(package) is None:
            pytest.skip(
                f"{package} is not installed: `pip install {package}` or `tox -e examples` "
                f"runs this example"
            )


def test_readme_shows_every_example():
    """The README holds the three commands: GPT-2, the hazard, and its fix."""
    commands = [command for command, _ in _examples()]
    assert commands == [
        "python -m audits.run --target examples.hf_gpt2:make",
        "python -m audits.run --target examples.item_in_forward:make",
        "python -m audits.run --target examples.item_in_forward:make_fixed",
    ]


def test_parse_verdicts_reads_status_counts_and_breaks():
    """The parser keeps status, counts and breaks, and drops timings and parity errors."""
    output = (
        "target    status    fullgraph    graphs    breaks    compiles/budget    parity max err\n"
        "--------  --------  -----------  --------  --------  -----------------  --------------\n"
        "mod:make  failed    NO           2         2         FAIL 3/1           1.2e-07\n"
        "\n"
        "mod:make:\n"
        "  graph break [GB0059]: Failed to trace builtin operator\n"
        "    at mod.py:3: print(x)\n"
    )
    verdicts = parse_verdicts(output)
    assert verdicts.rows == {
        "mod:make": {
            "status": "failed",
            "fullgraph": "NO",
            "graphs": "2",
            "breaks": "2",
            "compiles/budget": "FAIL 3/1",
        }
    }
    assert verdicts.breaks == (("GB0059", "Failed to trace builtin operator"),)


@pytest.mark.slow
@pytest.mark.expensive
@pytest.mark.parametrize(
    ("command", "documented"), _examples(), ids=[c.split()[-1] for c, _ in _examples()]
)
def test_example_prints_the_documented_verdicts(command, documented, tmp_path):
    """Run the README's command: same statuses, counts and breaks; exit 1 only if one failed."""
    _skip_without_optional_package(command)
    # --out keeps the run's report folder out of the checkout.
    argv = [sys.executable, *shlex.split(command)[1:], "--out", str(tmp_path / "run")]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
    expected = parse_verdicts(documented)
    assert done.returncode in (EXIT_OK, EXIT_FAILED), done.stderr
    actual = parse_verdicts(done.stdout)
    assert actual == expected, f"{command} printed:\n{done.stdout}"
    failed = any(row["status"] != "passed" for row in expected.rows.values())
    assert done.returncode == (EXIT_FAILED if failed else EXIT_OK), done.stderr
