"""The `esper-audit` console script: the function `python -m audits.run` calls, same flags."""

import importlib
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, PathDistribution, version
from pathlib import Path

import pytest

from audits import run
from audits.options import MODULE_PROG, SCRIPT_PROG, prog_name
from audits.run import cli

REPO = Path(__file__).resolve().parents[2]
# setuptools' PEP 517 metadata hook: the metadata pip reads to generate the script, written
# to the folder named by argv[1] without building or installing anything.
WRITE_METADATA = (
    "import sys, setuptools.build_meta as b; b.prepare_metadata_for_build_wheel(sys.argv[1])"
)


def _load(spec: str) -> object:
    module_name, attr = spec.split(":")
    return getattr(importlib.import_module(module_name), attr)


def _help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli(["--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_pyproject_declares_the_script_at_cli():
    """[project.scripts] esper-audit names audits.run:cli, the module's own entry function."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {SCRIPT_PROG: "audits.run:cli"}
    assert _load(scripts[SCRIPT_PROG]) is run.cli


def unmet_build_requirements() -> list[str]:
    """pyproject's [build-system] requires that this environment does not satisfy.

    pip builds in an isolated environment that has them; the hook here runs in this one.
    """
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    from packaging.requirements import Requirement

    unmet = []
    for spec in tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]:
        requirement = Requirement(spec)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            unmet.append(f"{spec} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{spec} ({installed} installed)")
    return unmet


def test_built_metadata_resolves_the_script_to_cli(tmp_path):
    """The metadata an install would write holds a console_scripts entry that loads cli."""
    unmet = unmet_build_requirements()
    if unmet:
        pytest.skip(f"the build backend is missing here: {', '.join(unmet)}")
    subprocess.run(
        [sys.executable, "-c", WRITE_METADATA, str(tmp_path)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (dist_info,) = tmp_path.glob("esper-*.dist-info")
    (entry,) = PathDistribution(dist_info).entry_points.select(
        group="console_scripts", name=SCRIPT_PROG
    )
    assert entry.value == "audits.run:cli"
    assert entry.load() is run.cli


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("/venv/bin/esper-audit", SCRIPT_PROG),
        ("esper-audit.exe", SCRIPT_PROG),
        ("/repo/audits/run.py", MODULE_PROG),
        ("/venv/bin/pytest", MODULE_PROG),
    ],
)
def test_prog_name_follows_how_the_audit_was_started(argv0, expected):
    """The script's argv[0] gives 'esper-audit'; anything else the module's command."""
    assert prog_name(argv0) == expected


@pytest.mark.slow
def test_module_help_is_the_functions_help(capsys, monkeypatch):
    """`python -m audits.run --help` prints exactly what cli(['--help']) prints."""
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps to the terminal width
    done = subprocess.run(
        [sys.executable, "-m", "audits.run", "--help"],
        cwd=REPO,
        env={**os.environ, "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == _help(capsys)
    assert done.stdout.startswith(f"usage: {MODULE_PROG} ")


def test_script_help_names_the_script_and_lists_the_same_flags(capsys, monkeypatch):
    """Started as esper-audit, --help names the script and documents the same flags."""
    monkeypatch.setenv("COLUMNS", "100")
    module_help = _help(capsys)
    monkeypatch.setattr(sys, "argv", ["/venv/bin/esper-audit", "--help"])
    script_help = _help(capsys)
    assert script_help.startswith(f"usage: {SCRIPT_PROG} [-h]")
    assert MODULE_PROG not in script_help
    # Only the usage block differs (the prog name, and so its wrapping); from the
    # description on, the two are the same text.
    assert script_help.split("\n\n", 1)[1] == module_help.split("\n\n", 1)[1]


def test_script_usage_errors_name_the_script(capsys, monkeypatch):
    """A bad flag value through esper-audit is one line that starts 'esper-audit: error:'."""
    monkeypatch.setattr(sys, "argv", ["/venv/bin/esper-audit"])
    assert cli(["--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "esper-audit: error: --jobs 0: must be an integer >= 1\n"
