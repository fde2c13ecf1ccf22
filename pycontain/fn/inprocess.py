"""A jail's handler run by pycontain's own interpreter: no python start in the jail.

Starting the jail's python is most of a cold `fn exec`. When the image's
python is the very interpreter running pycontain (the bundled `python` image
is built from it; see inprocess_choice), the jail's first process, a fork of
the engine or the interpreter started beside it (fn.prejail), instead becomes
what `python3 -I -S -B -c BOOT` would be inside the jail (after the same
namespaces, root, user, capabilities and seccomp program), and runs the
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
runner's), never the caller's variables or files (an interpreter started
beside the engine's never even had the caller's arguments). Two visible differences
from the image's own python: /proc/self/cmdline says just `python3`, and
sys.flags.dont_write_bytecode is 0 (sys.dont_write_bytecode is set).
"""
import os
import sys

_FORGOTTEN = []  # the engine's modules, out of sys.modules in the jail (see _as_jail_python)


def _memory_blocks() -> list:
    """(address, length) of the argument and environment blocks (proc(5) stat
    fields 48 to 51), read while our own /proc is still mounted."""
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rpartition(b")")[2].split()
    arg_start, arg_end, env_start, env_end = (int(v) for v in fields[45:49])
    return [(arg_start, arg_end - arg_start), (env_start, env_end - env_start)]


def _overwrite(n, blocks: list) -> None:
    """Zero the argument and environment blocks, the command then reading
    `python3` (n: pycontain.native)."""
    for address, length in blocks:
        n.ffi.memmove(n.ffi.cast("char *", address), bytes(length), length)
    command = b"python3"  # what /proc/self/cmdline shows
    if blocks[0][1] > len(command):
        n.ffi.memmove(n.ffi.cast("char *", blocks[0][0]), command, len(command))


def _as_jail_python(env: list, args: list) -> None:
    """The interpreter state of `python3 -I -S -B -c BOOT` (args) in the jail."""
    stdlib = tuple(p for p in sys.path if p.startswith(f"{sys.base_prefix}/lib/"))
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and not path.startswith(stdlib):
            _FORGOTTEN.append(sys.modules.pop(name))  # kept: freeing them costs ~0.5 ms
    sys.modules["__main__"] = type(sys)("__main__")
    sys.path[:] = stdlib
    sys.argv[:] = ["-c"]
    sys.orig_argv[:] = args
    sys.executable = sys._base_executable = f"{sys.base_prefix}/bin/python3"
    sys.prefix, sys.exec_prefix = sys.base_prefix, sys.base_exec_prefix
    sys.dont_write_bytecode = True
    os.environ.clear()
    os.environ.update(e.split("=", 1) for e in env if "=" in e)


def become_runner(env: list, args: list, blocks: list, runner, sigint):
    """The jail's first process, after lockdown: run the call. Never returns."""
    import _signal as signal

    from pycontain import native as n  # imported already (runner_hook)

    _overwrite(n, blocks)
    _as_jail_python(env, args)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # as python's start leaves them
        signal.signal(sig, signal.SIG_IGN)
    if sigint is not None:
        signal.signal(signal.SIGINT, sigint)
    n.prctl(n.PR_SET_DUMPABLE, 1)  # as after exec: /proc/self is the handler's own
    runner.run()


def runner_hook(process: dict, shared: bool = True, sigint=None):
    """The InitContext.replace_exec callable of a jail that nsinit runs instead of
    exec'ing the spec's process (its env and args: jail.BOOT); called before
    the jail's root exists: what it imports is the engine's. shared: the
    process is a fork of a longer-lived one, whose memory pages it shares.
    sigint: the SIGINT disposition python would start with, if not ours."""
    from pycontain import native  # noqa: F401 - for become_runner, after the root changes
    from pycontain.fn import runner

    blocks = _memory_blocks()
    if shared:
        import gc
        gc.freeze()  # the call's collector must not write to (and so copy) every shared page
    env, args = process["env"], process["args"]
    return lambda: become_runner(env, args, blocks, runner, sigint)
