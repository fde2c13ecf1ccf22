"""The layers: the OCI core (pycontain.oci) and pycontain-runc (pycontain.runc)
run a bundle without the engine, images, networks, function jails or the
command line, so neither may import them (lazily inside a function either);
and the core's init context has nothing only a function jail uses (fn
subclasses it: fn.jail_init), nor does the core name what the functions do."""
import ast
import re
from pathlib import Path

import pytest

import pycontain
from pycontain.oci.context import InitContext

PACKAGE = Path(pycontain.__file__).parent
FORBIDDEN = ("pycontain.engine", "pycontain.image", "pycontain.net", "pycontain.fn",
             "pycontain.cli")
# what only the functions (pycontain.fn) do; `Lambda` the service, not python's lambda
FN_WORDS = re.compile(r"(?i:\bfn\b|function jail|\bjails?\b|zygote|prejail|\bplan(s|ned)?\b"
                      r"|\brunner\b|handler call|uid_per_pid|per_pid|record_rootfs|in_process"
                      r"|rootfs_record)|\bLambda\b")


def _imports(path: Path, package: str) -> set:
    """Every module path imported anywhere in path's module (relative imports resolved)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" \
                and node.args and isinstance(node.args[0], ast.Constant):
            names.add(node.args[0].value)
    return names


def _violations(layer: str, forbidden=FORBIDDEN) -> list:
    root = PACKAGE / layer
    found = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(("pycontain", *path.relative_to(PACKAGE).with_suffix("").parts))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for name in sorted(_imports(path, package)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(PACKAGE)} imports {name}")
    return found


@pytest.mark.parametrize("layer", ["oci", "runc"])
def test_layer_imports_no_engine_image_net_fn_or_cli(layer):
    assert (PACKAGE / layer / "__init__.py").is_file()
    assert _violations(layer) == []


@pytest.mark.parametrize("layer", ["engine", "image", "net", "fn", "triggers", "kube", "build"])
def test_libraries_under_the_command_line_never_import_it(layer):
    """The command line (pycontain.cli) sits on top: `fn exec`'s flags and the
    lean flag parser live outside it (fn.oneshot.exec_command, pycontain.flagtable)."""
    assert _violations(layer, ("pycontain.cli",)) == []


def test_the_check_sees_lazy_and_relative_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pycontain.fn.plan import basis\n"
                      "    from ..engine import state\n    __import__('pycontain.net.api')\n")
    names = _imports(module, "pycontain.oci")
    assert {"pycontain.fn.plan", "pycontain.engine.state", "pycontain.net.api"} <= names


def test_runtime_is_gone():
    assert not (PACKAGE / "runtime").exists()


def _fn_words(text: str) -> list:
    return [m.group(0) for m in FN_WORDS.finditer(text)]


def test_the_init_context_has_no_field_only_functions_use():
    assert _fn_words(" ".join(InitContext.FIELDS)) == []
    assert _fn_words(InitContext.__doc__) == []
    read = {node.attr for path in (PACKAGE / "oci").rglob("*.py")
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
            and getattr(node.value, "id", "") in ("ctx", "self")}
    unread = [f for f in InitContext.FIELDS if f not in read]
    assert unread == [], "fields the core's init never reads: a caller's, not the core's"


def test_the_core_names_nothing_only_functions_do():
    found = [f"{path.relative_to(PACKAGE)}: {word}"
             for path in sorted((PACKAGE / "oci").rglob("*.py"))
             if path != PACKAGE / "oci" / "__init__.py"  # its docstring states this rule
             for word in _fn_words(path.read_text())]
    assert found == []


def test_the_words_check_sees_the_old_fields():
    assert _fn_words("record_rootfs (bool) ... (rootfs_record, fn.plan)") == [
        "record_rootfs", "rootfs_record", "fn", "plan"]
    assert _fn_words("uid_per_pid, in_process; lambda v: v; Lambda's sandbox") == [
        "uid_per_pid", "in_process", "Lambda"]


def test_what_runs_in_a_jail_imports_only_the_standard_library():
    """fn.injail's modules are bound into jails and run by the image's python:
    nothing of pycontain (nor anything pip installed) is there."""
    import sys
    for path in sorted((PACKAGE / "fn" / "injail").glob("*.py")):
        tops = {name.split(".")[0] for name in _imports(path, "pycontain.fn.injail")}
        outside = {t for t in tops if t not in sys.stdlib_module_names
                   and t not in ("runner", "zygote_main", "call_setup")}  # in /var/runtime
        assert outside == set(), f"{path.name}: {outside}"
