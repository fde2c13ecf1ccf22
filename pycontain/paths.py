"""Where pycontain keeps its data (images, containers) and runtime state.

Root: /var/lib/pycontain and /run/pycontain. Rootless: $XDG_DATA_HOME/pycontain
and $XDG_RUNTIME_DIR/pycontain (falling back to ~/.local/share and a private
/tmp directory). PYCONTAIN_ROOT / PYCONTAIN_RUNROOT override both, which the
tests use to keep every run in a directory of its own.
"""
import os
import stat


def _private_dir(path: str) -> str:
    """path as a directory only we can use: created 0700, or refused if it
    exists as anything else (a symlink, another user's, open to others), since
    /tmp/pycontain-run-UID could have been planted by someone else."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        from pycontain.errors import PycontainError
        raise PycontainError(f"{path} is not a private directory of this user (mode 0700): "
                             "remove it, or set XDG_RUNTIME_DIR")
    return path


def _rootless_run_root() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and os.stat(runtime).st_uid == os.getuid():
        return _private_dir(os.path.join(runtime, "pycontain"))
    return os.path.join(_private_dir(f"/tmp/pycontain-run-{os.getuid()}"), "pycontain")


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


def cache_path(kind: str) -> str:
    """Where the store keeps a cache of one kind (seccomp, bytecode): files it
    can rebuild at any time."""
    return os.path.join(data_root(), "cache", kind)


def ensure_dir(path: str) -> str:
    """Create path (and parents) mode 0700 if missing; return it."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path
