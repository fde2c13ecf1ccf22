"""A jail's handler run by the engine's own interpreter: no second python start.

Starting the jail's python is most of a cold `fn exec`. When the image's
python is the very interpreter running pycontain (the bundled `python` image
is built from it), the jail's first process, a fork of the engine, instead
becomes what `python3 -I -S -B -c BOOT` would be inside the jail (after the
same namespaces, root, user, capabilities and seccomp program), and runs the
runner. Nothing of the caller may reach the handler through it:

- the pycontain command starts `fn exec` with an emptied environment (only the
  variables pycontain reads itself, such as HOME or PYCONTAIN_ROOT, pass);
- the process's original argument and environment blocks (what
  /proc/self/cmdline and /proc/self/environ show) are overwritten;
- os.environ becomes the jail's, sys.path the jail's python's, and every
  module that is not the standard library (pycontain's own) is forgotten;
- every descriptor but the call's three was closed by nsinit already.
What stays in memory is what the engine itself used (the handler's host path,
the store's, the jail's spec; reachable too through the frames below the
runner's), never the caller's variables or files. Two visible differences
from the image's own python: /proc/self/cmdline says just `python3`, and
sys.flags.dont_write_bytecode is 0 (sys.dont_write_bytecode is set).
"""
import os
import stat
import sys

from pycontain.fn.jail import BOOT, mount_points


# the variables the pycontain command (csrc/launcher.c, bin/pycontain) lets
# through to `fn exec` and `fn invoke`
KEPT_VARIABLES = ("HOME", "PATH", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "PYCONTAIN_ROOT",
                  "PYCONTAIN_RUNROOT", "PYCONTAIN_CGROUP_PARENT", "PYCONTAIN_FN_FORK")
_FORGOTTEN = []  # the engine's modules, out of sys.modules in the jail (see _as_jail_python)


def usable(layer_dirs: list, path: str) -> bool:
    """Whether a call may run in this process: not turned off (PYCONTAIN_FN_FORK=0),
    the caller's environment emptied (the pycontain command does it) and the image's
    python3 (on the jail's PATH) is this interpreter."""
    return (os.environ.get("PYCONTAIN_FN_FORK") != "0"
            and set(os.environ) <= {*KEPT_VARIABLES, "LC_CTYPE"}  # python's locale coercion
            and serves(layer_dirs, path))


def serves(layer_dirs: list, path: str) -> bool:
    """Whether `python3` on PATH in the image is this interpreter: a one-layer
    image (so no other layer can shadow or hide a file) whose python3 is the
    same file (size and mtime, which layers keep) at the same path. And the
    interpreter must be root's and writable by no one else: the handler may
    open it through /proc/self/exe, and must not be able to chmod it."""
    exe = os.path.realpath(sys.executable)
    ours = os.stat(exe)
    if len(layer_dirs) != 1 or ours.st_uid != 0 or ours.st_mode & 0o022:
        return False
    layer, mounts = layer_dirs[0], mount_points()
    for directory in path.split(":"):
        if not directory.startswith("/"):
            return False  # the working directory, /var/task, is not the image's
        try:
            found = _resolve_in(layer, f"{directory}/python3", mounts)
        except _Mounted:
            return False  # what the jail mounts there (the code, /tmp...) decides
        if found is not None:
            theirs = os.stat(found)
            return (found == os.path.join(layer, exe.lstrip("/"))
                    and theirs.st_size == ours.st_size
                    and int(theirs.st_mtime) == int(ours.st_mtime))
    return False


class _Mounted(Exception):
    """A path leads into something the jail mounts over the image."""


def _under(path: str, mounts: tuple) -> bool:
    return any(path == m or path.startswith(m + "/") for m in mounts)


def _resolve_in(root: str, path: str, mounts: tuple, links: int = 0):
    """The regular file path names with root as /, symlinks followed inside
    root; None if there is none; _Mounted if a step is at or under a mount."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    current = root
    for i, part in enumerate(parts):
        if part == "..":
            current = current if current == root else os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        inside = candidate[len(root):]
        if _under(inside, mounts):
            raise _Mounted(inside)
        try:
            st = os.lstat(candidate)
        except OSError:  # not in the image: but the jail may make it a mount point
            whole = "/".join([inside, *parts[i + 1:]])
            if _under(whole, mounts):
                raise _Mounted(whole) from None
            return None
        if stat.S_ISLNK(st.st_mode):
            if links >= 40:
                return None
            target = os.readlink(candidate)
            base = "" if target.startswith("/") else current[len(root):]
            rest = "/".join([target, *parts[i + 1:]])
            return _resolve_in(root, f"{base}/{rest}", mounts, links + 1)
        current = candidate
    return current if stat.S_ISREG(os.stat(current).st_mode) else None


def _memory_blocks() -> list:
    """(address, length) of the argument and environment blocks (proc(5) stat
    fields 48 to 51), read while our own /proc is still mounted."""
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rpartition(b")")[2].split()
    arg_start, arg_end, env_start, env_end = (int(v) for v in fields[45:49])
    return [(arg_start, arg_end - arg_start), (env_start, env_end - env_start)]


def _overwrite(blocks: list) -> None:
    from pycontain import native as n  # imported already (runner_hook)

    for address, length in blocks:
        n.ffi.memmove(n.ffi.cast("char *", address), bytes(length), length)
    command = b"python3"  # what /proc/self/cmdline shows
    if blocks[0][1] > len(command):
        n.ffi.memmove(n.ffi.cast("char *", blocks[0][0]), command, len(command))


def _as_jail_python(env: list) -> None:
    """The interpreter state of `python3 -I -S -B -c BOOT` in the jail."""
    stdlib = tuple(p for p in sys.path if p.startswith(f"{sys.base_prefix}/lib/"))
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and not path.startswith(stdlib):
            _FORGOTTEN.append(sys.modules.pop(name))  # kept: freeing them costs ~0.5 ms
    sys.modules["__main__"] = type(sys)("__main__")
    sys.path[:] = stdlib
    sys.argv[:] = ["-c"]
    sys.orig_argv[:] = ["python3", "-I", "-S", "-B", "-c", BOOT]
    sys.executable = sys._base_executable = f"{sys.base_prefix}/bin/python3"
    sys.prefix, sys.exec_prefix = sys.base_prefix, sys.base_exec_prefix
    sys.dont_write_bytecode = True
    os.environ.clear()
    os.environ.update(e.split("=", 1) for e in env if "=" in e)


def _exit_code(exc: BaseException) -> int:
    """The status python gives an exception that ends the program."""
    if isinstance(exc, SystemExit):
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    import traceback
    traceback.print_exception(exc)
    return 1


def _exit(status: int):
    """End as the interpreter does: its threads joined, atexit run, streams flushed."""
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    import atexit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status & 0xFF)


def become_runner(env: list, blocks: list, runner):
    """The jail's first process, after lockdown: run the call. Never returns."""
    import _signal as signal

    from pycontain import native as n  # imported already (runner_hook)

    _overwrite(blocks)
    _as_jail_python(env)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # as python's start leaves them
        signal.signal(sig, signal.SIG_IGN)
    n.prctl(n.PR_SET_DUMPABLE, 1)  # as after exec: /proc/self is the handler's own
    try:
        status = runner.main()
    except BaseException as exc:  # noqa: BLE001 - what python would do at the top level
        status = _exit_code(exc)
    _exit(status)


def runner_hook(env: list):
    """The ctx["in_process"] callable of a jail that nsinit runs instead of exec
    (called before the jail's root exists: what it imports is the engine's)."""
    from pycontain import native  # noqa: F401 - for _overwrite and become_runner
    from pycontain.fn import runner

    blocks = _memory_blocks()
    import gc
    gc.freeze()  # the call's collector must not write to (and so copy) every page we share
    return lambda: become_runner(env, blocks, runner)
