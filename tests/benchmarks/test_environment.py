"""The environment record and the scoped settings it is taken under."""

import os
import re

import pytest
import torch

from foundation.environment import EnvironmentRecord, collect_environment
from foundation.scoped import scoped_env, scoped_num_threads


def test_environment_records_torch_device_cpu_threads_and_time():
    """Every field the reports compare on is filled in for a CPU run."""
    with scoped_num_threads(1):
        record = collect_environment("cpu")
    assert record.torch_version == torch.__version__
    assert record.device_kind == "cpu"
    assert record.device_name == record.cpu_model and record.cpu_model
    assert record.threads == 1
    assert record.interop_threads >= 1
    assert record.cuda_version == torch.version.cuda
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record.time_utc)


def test_environment_records_the_git_revision_of_this_checkout():
    """In a git checkout the sha is 40 hex digits and the dirty flag is a bool."""
    record = collect_environment("cpu")
    if record.git_sha is None:
        pytest.skip("not running inside a git checkout with commits")
    assert re.fullmatch(r"[0-9a-f]{40}", record.git_sha)
    assert isinstance(record.git_dirty, bool)
    assert record.short_sha.startswith(record.git_sha[:7])


def test_environment_refuses_an_unknown_device_kind():
    """Only cpu and cuda timings are comparable kinds."""
    fields = {name: None for name in EnvironmentRecord.__dataclass_fields__}
    fields.update(device_kind="tpu", threads=1, torch_version="x", time_utc="t")
    with pytest.raises(ValueError, match="device_kind"):
        EnvironmentRecord(**fields)


def test_scoped_num_threads_restores_the_previous_count():
    """The thread count is set for the block and put back after, even on error."""
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), scoped_num_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_scoped_env_removes_a_variable_it_created():
    """A variable absent before the block is absent after it."""
    name = "ESPER_BENCH_TEST_VARIABLE"
    assert name not in os.environ
    with scoped_env(name, "1"):
        assert os.environ[name] == "1"
    assert name not in os.environ


def test_a_changed_report_folder_does_not_make_the_tree_dirty(tmp_path, monkeypatch):
    """A run that rewrites a committed report (the version matrix) ran clean code."""
    import subprocess

    import foundation.environment as environment

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "report.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.setattr(environment, "_REPO_ROOT", tmp_path)
    (tmp_path / "reports" / "report.json").write_text('{"new": 1}')
    assert environment.git_revision()[1] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert environment.git_revision()[1] is True
