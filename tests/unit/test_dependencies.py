"""Every package pyproject.toml declares as a dependency is imported by
pycontain (or by its build, csrc/): none is carried for nothing.

A distribution's import names differ from its own (python-prctl installs
`prctl` and the C module `_prctl`, which is the one pycontain imports):
importlib.metadata maps them."""
import ast
import importlib.metadata
import re
import tomllib
from pathlib import Path

from test_layering import PACKAGE

REPO = Path(__file__).resolve().parents[2]


def _imported_top_level() -> set:
    names = set()
    for path in [*PACKAGE.rglob("*.py"), *(REPO / "csrc").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.partition(".")[0])
    return names


def test_every_declared_dependency_is_imported():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    modules = importlib.metadata.packages_distributions()
    imported = _imported_top_level()
    unused = []
    for requirement in project["dependencies"]:
        dist = re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower().replace("_", "-")
        provides = {module for module, dists in modules.items()
                    if dist in {d.lower().replace("_", "-") for d in dists}}
        assert provides, f"{dist} is not installed"
        if not provides & imported:
            unused.append(f"{dist} (provides {sorted(provides)})")
    assert unused == []
