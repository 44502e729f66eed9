"""The packages import one way: esper, foundation, reporting, then audits and benchmarks."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Each package and the packages it may import (besides itself, torch and the stdlib).
ALLOWED = {
    "esper": set(),
    "foundation": set(),
    "reporting": {"foundation"},
    "benchmarks": {"esper", "foundation", "reporting"},
    "audits": {"esper", "foundation", "reporting", "benchmarks"},
}


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package):
    """No file imports a package above its own (benchmarks never imports audits)."""
    wrong = {
        str(path.relative_to(ROOT)): sorted(found - ALLOWED[package] - {package})
        for path in sorted((ROOT / package).rglob("*.py"))
        if (found := _imported_packages(path)) - ALLOWED[package] - {package}
    }
    assert wrong == {}


def test_audits_imports_benchmarks_only_through_its_public_api():
    """The audit times host targets with benchmarks' public API, not its internals."""
    internal = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "audits").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("benchmarks.")
    }
    assert internal == set()
