"""The CI workflow agrees with tox.ini and the Makefile, and installs only CPU builds of torch.

actionlint (`tox -e lint`) checks the workflow's syntax; these check the facts it
shares with the rest of the repository.
"""

import configparser
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
SETUP_ACTION = REPO / ".github" / "actions" / "setup-esper" / "action.yml"
CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"
RELEASE_ENVS = re.compile(r"^\[testenv:py311-torch\{[\d,]+\}\]$", re.MULTILINE)


def _workflow_releases() -> dict[str, str]:
    pairs = re.findall(r"- \{ env: (py311-torch\d+), torch: ([\d.]+) \}", WORKFLOW.read_text())
    return dict(pairs)


def _tox_releases() -> dict[str, str]:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini")
    (section,) = [s for s in tox.sections() if RELEASE_ENVS.match(f"[{s}]")]
    releases = {}
    for line in tox[section]["deps"].strip().splitlines():
        factor, requirement = (part.strip() for part in line.split(":", 1))
        releases[f"py311-{factor}"] = requirement.removeprefix("torch==")
    return releases


def test_release_jobs_are_the_tox_release_envs():
    """One matrix job per py311-torch* env of tox.ini, with the same torch release."""
    releases = _workflow_releases()
    assert len(releases) == 11
    assert releases == _tox_releases()


def test_workflow_torch_is_the_makefiles_and_has_a_baseline():
    """TORCH_VERSION is the Makefile's pin, and --baseline auto finds its CPU baseline."""
    (version,) = re.findall(r'^  TORCH_VERSION: "([\d.]+)"', WORKFLOW.read_text(), re.MULTILINE)
    makefile = (REPO / "Makefile").read_text()
    (spec,) = re.findall(r"^TORCH_SPEC \?= torch==([\d.]+)$", makefile, re.MULTILINE)
    assert version == spec
    assert (REPO / "reports" / "baseline" / f"cpu-torch{version}.json").is_file()


def test_type_job_runs_the_tox_type_command():
    """The workflow's mypy step checks the packages `tox -e type` checks."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini")
    command = tox["testenv:type"]["commands"].strip()
    assert f"run: {command}" in [line.strip() for line in WORKFLOW.read_text().splitlines()]


def test_every_torch_install_uses_the_cpu_index():
    """Each pip install that names torch takes it from PyTorch's CPU index, not PyPI."""
    installs = [
        line.strip()
        for path in (WORKFLOW, SETUP_ACTION)
        for line in path.read_text().splitlines()
        if "pip install" in line and "torch" in line
    ]
    assert installs, "no pip install of torch found in the workflow or its set-up action"
    assert all(CPU_INDEX in line for line in installs), installs
