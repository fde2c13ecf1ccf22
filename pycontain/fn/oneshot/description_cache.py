"""Cached jail descriptions of `fn exec` (see fn.oneshot.describe), and their stamps.

As root, the launcher names each `fn exec` invocation (csrc/launcher.c: a
hash of its directory, the working directory, the arguments but --event's
value, the kept variables) and gives the engine that name
(PYCONTAIN_PLAN_KEY) when it has no fresh description under it. The engine
writes the description of the jail it builds there, with its stamps (op T):
the invocation exactly (the name is only a hash of it), the code as given
and its real path, the timeout and memory size the launcher's own call
needs, then pairs of a file and its fingerprint (the code, the store's image
index, the pycontain modules the engine imported, its data and commands). The launcher runs the call
itself (csrc/call.c) only while every fingerprint holds; otherwise the
engine compiles the jail again. T's arguments: the name, the launcher's
directory, the working directory, the index in argv of --event's value and
the length of its prefix ("--event=": 8; 0 0 for none), the count of
arguments after `fn exec` and those arguments, --event's value as ""; the
count of variables and the variables; the code, its real path; the timeout
(python's repr of the float), the memory size in MB; the pairs. At most
MAX_DESCRIPTIONS are kept, the oldest written go first.
"""
import os
import sys

from pycontain.fn.oneshot.describe import MAX_ARGS, MAX_DESCRIPTION, with_stamps  # MAX_ARGS: per op
from pycontain.fn.environment import KEPT_VARIABLES

KEY_VARIABLE = "PYCONTAIN_PLAN_KEY"
MAX_DESCRIPTIONS = 256               # kept (each ~10 KB)


def take_key():
    """The name the launcher gave this invocation, if any (the variable is
    removed: it reaches nothing else)."""
    key = os.environ.pop(KEY_VARIABLE, "")
    return key if len(key) == 16 and all(c in "0123456789abcdef" for c in key) else None


def fingerprint(path: str) -> str:
    """What changes when the file at path does, as csrc/jail_cache.c writes it ("-": none)."""
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_dev}:{st.st_ino}:{st.st_mode}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _event_argument(argv: list, event) -> tuple:
    """(index in argv, length of its prefix) of --event's value as the flag
    parser took it (the last one), (0, 0) for none."""
    for i in range(len(argv) - 1, 2, -1):
        if event is not None and argv[i] == f"--event={event}":
            return i, len("--event=")
        if event is not None and argv[i] == event and argv[i - 1] == "--event":
            return i, 0
    return 0, 0


def _invocation(key: str, event_source) -> tuple:
    """T's first arguments: this process's invocation, as the launcher saw it."""
    index, prefix = _event_argument(sys.argv, event_source)
    argv = [a[:prefix] if i == index else a for i, a in enumerate(sys.argv)][3:]
    env = [f"{k}={v}" for k, v in os.environ.items() if k in KEPT_VARIABLES]
    return (key, os.path.dirname(os.path.abspath(sys.argv[0])), os.getcwd(), index, prefix,
            len(argv), *argv, len(env), *env)


# the package data a compile reads (pyproject.toml's package-data, but _bin:
# the one-shot path runs no pycontain-init); tests/unit keeps the two in step
PACKAGE_DATA = ("oci/security/profiles/default.json",)


def installed_fingerprints() -> list:
    """pycontain itself as this process ran it, file by file: the modules it
    imported (Python and C: no other module's code made the description), the
    package data, the commands beside this process. [(path, fingerprint)]"""
    import pycontain
    package = os.path.dirname(os.path.abspath(pycontain.__file__))
    found = {os.path.join(package, name) for name in PACKAGE_DATA}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) if name.startswith("pycontain") else None
        if path and path.startswith(package + os.sep):
            found.add(path)
    commands = os.path.dirname(os.path.abspath(sys.argv[0]))
    files = sorted(found) + [os.path.join(commands, name)
                             for name in ("pycontain", "pycontain-main")]
    return [(path, fingerprint(path)) for path in files]


def input_fingerprints(cfg) -> list:
    """The files a call of cfg reads besides pycontain's own: its code and the
    store's image index. [(path, fingerprint)]"""
    from pycontain import paths

    files = [os.path.realpath(cfg.code), os.path.join(paths.data_root(), "images.json")]
    return [(path, fingerprint(path)) for path in files]


class Stamps:
    """The stamps of a call's description, taken before its spec is built
    (so that a file changed meanwhile is seen as changed next time)."""

    def __init__(self, key: str, cfg, event_source):
        self.key, self.cfg, self.event_source = key, cfg, event_source
        self.inputs = input_fingerprints(cfg)

    def op(self):
        """The op T, or None for code the sandbox user cannot read (the engine
        warns about it on every call) or an invocation too long to keep."""
        from pycontain.fn.jail import sandbox_can_read

        cfg, inputs = self.cfg, self.inputs
        code = os.path.realpath(cfg.code)
        if not sandbox_can_read(code):
            return None
        if inputs != input_fingerprints(cfg):  # changed meanwhile: which one did the spec see?
            inputs = [(path, "?") for path, _ in inputs]
        pairs = inputs + installed_fingerprints()
        op = ("T", *_invocation(self.key, self.event_source), cfg.code, code,
              repr(float(cfg.timeout)), cfg.memory_mb, *(item for pair in pairs for item in pair))
        return op if len(op) - 1 <= MAX_ARGS else None

    def save(self, description: bytes) -> None:
        """Write description (stamp-less, as the call was started from) with
        the stamps under this invocation's name, if it can be kept."""
        op = self.op()
        if op is not None:
            data = with_stamps(description, op)
            if len(data) <= MAX_DESCRIPTION:
                _write(self.key, data)


def description_path(key: str) -> str:
    from pycontain import paths
    return os.path.join(paths.cache_path("plans"), key)


def _write(key: str, data: bytes) -> None:
    """Best effort: a cache that cannot be written only means no engine-less
    call next time. Beyond MAX_DESCRIPTIONS, the ones written longest ago go."""
    from pycontain import paths
    from pycontain.fsutil import write_atomic

    try:
        directory = paths.ensure_dir(paths.cache_path("plans"))
        write_atomic(description_path(key), data, sync=False)
        names = [os.path.join(directory, name) for name in os.listdir(directory)
                 if len(name) == 16]  # not another writer's temporary file
        if len(names) > MAX_DESCRIPTIONS:
            for path in sorted(names, key=_written)[:len(names) - MAX_DESCRIPTIONS]:
                _remove(path)
    except OSError:
        pass


def _written(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass  # another writer's cleaning
