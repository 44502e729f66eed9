"""scripts/mutation.py: every module it names exists, with tests, and none of esper/ or
audits/checks/ is left out."""

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _groups():
    spec = importlib.util.spec_from_file_location("mutation_script", REPO / "scripts/mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GROUPS


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
