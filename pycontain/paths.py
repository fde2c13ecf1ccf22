"""Where pycontain keeps its data (images, containers) and runtime state.

Root: /var/lib/pycontain and /run/pycontain. Rootless: $XDG_DATA_HOME/pycontain
(default ~/.local/share/pycontain) and $XDG_RUNTIME_DIR/pycontain, or without
a runtime directory of ours, run/ in the data root: never a name in a shared
directory such as /tmp, which another user could take first.
PYCONTAIN_ROOT / PYCONTAIN_RUNROOT override both, which the tests use to
keep every run in a directory of its own. Every directory made here is 0700.
"""
import os
import stat

_rootless_run = []  # the rootless run root, once found (it costs syscalls)


def _private_dir(path: str) -> str:
    """path as a directory only we can use: created 0700 (readable by others:
    made 0700), or refused if it is anything else (a symlink, another user's,
    writable by others)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        from pycontain.errors import PycontainError
        raise PycontainError(f"{path} is not a private directory of this user (mode 0700): "
                             "remove it, or set XDG_RUNTIME_DIR")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def _rootless_run_root() -> str:
    if not _rootless_run:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if runtime and os.path.isdir(runtime) and os.stat(runtime).st_uid == os.getuid():
            path = _private_dir(os.path.join(runtime, "pycontain"))
        else:
            path = _private_dir(os.path.join(ensure_dir(data_root()), "run"))
        _rootless_run.append(path)
    return _rootless_run[0]


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
    """Create path mode 0700 if missing, and its missing parents likewise
    (os.makedirs makes those 0755: a store root made on the way to one of
    its subdirectories was open to every user); return it."""
    try:
        os.mkdir(path, 0o700)
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if parent in ("", path):
            raise
        ensure_dir(parent)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:  # another process made it meanwhile
            pass
    except FileExistsError:
        if not os.path.isdir(path):
            raise
    return path
