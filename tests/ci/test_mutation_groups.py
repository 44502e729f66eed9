"""scripts/mutation.py: every module it names exists, with tests, and none of esper/ or
audits/checks/ is left out."""

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("mutation_script", REPO / "scripts/mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _groups():
    return _script().GROUPS


def test_every_module_and_test_path_exists():
    for modules in _groups().values():
        for module, tests in modules.items():
            assert (REPO / module).is_file(), module
            assert tests and all((REPO / t).exists() for t in tests), (module, tests)


def test_every_esper_and_check_module_with_code_is_mutated():
    """A module with code in esper/ or audits/checks/ missing from the groups is a gap."""
    listed = {m for modules in _groups().values() for m in modules}
    for folder in ("esper", "audits/checks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            source = path.read_text()
            has_code = "def " in source or "class " in source
            if path.name != "__init__.py" and has_code:
                assert str(path.relative_to(REPO)) in listed, path


def test_forget_survivors_leaves_killed_mutants_alone(tmp_path):
    """--retest-survivors drops only the surviving results (cosmic-ray's session table)."""
    import sqlite3

    module = _script()
    session = tmp_path / "s.sqlite"
    with sqlite3.connect(session) as db:
        db.execute("CREATE TABLE work_results (test_outcome VARCHAR(11), job_id VARCHAR)")
        rows = [("KILLED", "a"), ("SURVIVED", "b"), ("SURVIVED", "c")]
        db.executemany("INSERT INTO work_results VALUES (?, ?)", rows)
    assert module.forget_survivors(session) == 2
    with sqlite3.connect(session) as db:
        assert list(db.execute("SELECT job_id FROM work_results")) == [("a",)]
