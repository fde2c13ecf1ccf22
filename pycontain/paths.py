"""Where pycontain keeps its data (images, containers) and runtime state.

Root: /var/lib/pycontain and /run/pycontain. Rootless: $XDG_DATA_HOME/pycontain
and $XDG_RUNTIME_DIR/pycontain (falling back to ~/.local/share and a private
/tmp directory). PYCONTAIN_ROOT / PYCONTAIN_RUNROOT override both, which the
tests use to keep every run in a directory of its own.
"""
import os


def _rootless_run_root() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and os.stat(runtime).st_uid == os.getuid():
        return os.path.join(runtime, "pycontain")
    return f"/tmp/pycontain-run-{os.getuid()}"


def data_root() -> str:
    if "PYCONTAIN_ROOT" in os.environ:
        return os.environ["PYCONTAIN_ROOT"]
    if os.geteuid() == 0:
        return "/var/lib/pycontain"
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "pycontain")


def run_root() -> str:
    if "PYCONTAIN_RUNROOT" in os.environ:
        return os.environ["PYCONTAIN_RUNROOT"]
    return "/run/pycontain" if os.geteuid() == 0 else _rootless_run_root()


def ensure_dir(path: str) -> str:
    """Create path (and parents) mode 0700 if missing; return it."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path
