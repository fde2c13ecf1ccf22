"""Plans: a one-shot `fn exec` jail recorded so that C can build it again.

A jail built by Python waits for an interpreter's start and its imports;
bwrap builds its own in a few ms of C. So, as root on two CPUs or more, the
launcher (csrc/launcher.c, csrc/plan.c) builds the jail in C from a plan
recorded the last time this very invocation ran (same arguments but for
--event's value, same working directory and environment): the file system
operations of the jail's set-up (fn.rootfs_record), the lockdown of the
spec's process, and the exec of the jail's python3 with the runner, which
waits for the go-ahead (runner.await_go). When none of the files the call
was made from has changed (the plan's stamps), the launcher runs the call
itself (csrc/call.c: the event, the go-ahead, the outcome, as fn.outcome
does). Else the engine (fn.planned) hands that jail the call once the spec it
builds as always, and pycontain's own files, equal those the plan was
recorded from (an upgrade may build jails otherwise from the same spec), and
stamps the plan anew; if they differ, it kills that jail and makes one of its
own, which records a new plan. So a stale plan never runs more than python's
start and the runner's import. The plan holds what the invocation passed
(--env values too): it is root's, 0600, in the store's 0700 cache.

The launcher names the plan file to the engine (PYCONTAIN_PLAN_KEY, see fn.planned).

The plan file, <store>/cache/plans/NAME (written here, read by csrc/plan.c):
b"PYCPLAN4"; u32 n, n bytes: the stamps (an op T, or none); u32 n, n bytes of
marshal: the basis (spec, context, pycontain's files); u32 count of ops,
then each op: u8 code, u16 count of arguments, each argument u32 length, the
bytes, a NUL (length 0xFFFFFFFF: a null argument, no bytes). Integers are
decimal text. All numbers little-endian. T's arguments, what the launcher
checks before it runs a call itself: the invocation exactly, as the key is
only a hash of it (the plan's name, the launcher's directory, the working
directory, the index in argv of --event's value and the length of its
prefix, "--event=": 8, 0 0 for none, the count of arguments after `fn exec`
and those arguments, --event's value as ""; the count of variables and the
variables); the code as given and its real path; the timeout (python's repr
of the float) and the memory size in MB; then pairs of a file and its
fingerprint. At most MAX_PLANS plans are kept, the oldest used go first.
"""
import marshal
import os
import sys

from pycontain.fn.environment import CALL_VARIABLES
from pycontain.fn.jail_init import ops_of

MAGIC = b"PYCPLAN4"
MAX_PLAN = 1 << 20                   # csrc/plan.c refuses larger files
MAX_ARGS = 1024                      # per op, as csrc/plan.c
MAX_PLANS = 256                      # plans kept (each ~50 KB)
GO_FD = 3                            # where a planned jail's runner finds its go-ahead
HELPER_VARIABLE = "_PYCONTAIN_HELPER"  # set: the runner first waits for the set-up's helper
MNT_DETACH = 2
CONTEXT_KEYS = ("rootfs", "overlay", "hostname", "loopback", "seccomp", "uid_per_pid")
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_KEEPCAPS = 1, 38, 8
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SIGKILL = 9
CAPABILITIES = 64                    # numbers a capability may have: a kernel has fewer


def is_call_variable(entry: str) -> bool:
    return entry.partition("=")[0] in CALL_VARIABLES


def basis(spec: dict, ctx, installed: list) -> tuple:
    """What a jail's plan follows from: the spec but for the call's own
    variables, the context's parts that shape the jail, and pycontain's own
    files (installed: installed_fingerprints()), whose code made the ops."""
    env = [e for e in spec["process"]["env"] if not is_call_variable(e)]
    return (dict(spec, process=dict(spec["process"], env=env)),
            {k: getattr(ctx, k) for k in CONTEXT_KEYS}, installed)


def plan_path(key: str) -> str:
    from pycontain import paths
    return os.path.join(paths.cache_path("plans"), key)


def fingerprint(path: str) -> str:
    """What changes when the file at path does, as csrc/plan.c writes it ("-": there is none)."""
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
    """T's first arguments: this process's invocation, as the launcher saw it
    (its argv and working directory are the engine's; its environment, the
    variables it kept, with none python adds, such as LC_CTYPE)."""
    from pycontain.fn.inprocess_choice import KEPT_VARIABLES

    index, prefix = _event_argument(sys.argv, event_source)
    argv = [a[:prefix] if i == index else a for i, a in enumerate(sys.argv)][3:]
    env = [f"{k}={v}" for k, v in os.environ.items() if k in KEPT_VARIABLES]
    return (key, os.path.dirname(os.path.abspath(sys.argv[0])), os.getcwd(), index, prefix,
            len(argv), *argv, len(env), *env)


def installed_fingerprints() -> list:
    """pycontain itself, file by file: its package's modules and C
    extensions, and the commands (the launcher and the script it runs)
    beside this process's: [(path, fingerprint)]."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = [os.path.join(root, name) for root, dirs, names in os.walk(package)
             for name in names if name.endswith((".py", ".so", ".json"))]
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


def stamps(key: str, cfg, event_source, inputs: list, installed: list):
    """The op T (see above) of the plan key: the invocation, then what a call
    of cfg (a fn.jail.JailConfig), whose --event was event_source, was made
    from besides its arguments (inputs: input_fingerprints() taken before the
    call's spec was built; installed: pycontain's own files), and the settings
    the launcher needs to run the call. None for code the sandbox user cannot
    read (the engine warns about it on every call)."""
    from pycontain.fn.jail import sandbox_can_read

    code = os.path.realpath(cfg.code)
    if not sandbox_can_read(code):
        return None
    return ("T", *_invocation(key, event_source), cfg.code, code, repr(float(cfg.timeout)),
            cfg.memory_mb, *(item for pair in inputs + installed for item in pair))


def _process_ops(spec: dict, ctx):
    """(ops before, ops after) the root file system's, as the jail's init
    (oci.nsinit.container_main with fn.jail_init's steps) and
    security.lockdown.drop_privileges do them; None for a spec they would
    not do right (a planned jail is a one-shot function jail)."""
    import resource

    from pycontain.namespaces import CLONE_NEWPID, namespace_flags

    process, linux = spec["process"], spec.get("linux", {})
    user, sets = process.get("user", {}), process.get("capabilities") or {}
    namespaces = {ns["type"] for ns in linux.get("namespaces", ())}
    if (not sets or any(sets.values()) or user.get("additionalGids")
            or not process.get("noNewPrivileges") or not ctx.seccomp
            or namespaces & {"user", "cgroup"} or "pid" not in namespaces
            or any(m["destination"].startswith("/sys/fs/cgroup") for m in spec.get("mounts", ()))):
        return None
    ops = [("H", ctx.hostname)] if ctx.hostname else []
    ops += [("I",)] if ctx.loopback else []
    ops += [("R", getattr(resource, r["type"]), r["soft"], r["hard"])
            for r in process.get("rlimits", ())]
    cwd = process.get("cwd", "/")
    ops += [("A", cwd, 0o755), ("d", cwd), ("W", PR_SET_NO_NEW_PRIVS, 1), ("S", ctx.seccomp)]
    ops += [("B", cap) for cap in range(CAPABILITIES)]  # those this kernel has (csrc/plan.c)
    # J: the uid + the jail's host pid (jail_init.per_pid_user), V: the uid
    uid = ("J" if ctx.uid_per_pid else "V", user.get("uid", 0))
    ops += [("W", PR_SET_KEEPCAPS, 1), ("G",), ("g", user.get("gid", 0)), uid,
            ("W", PR_SET_KEEPCAPS, 0), ("K", 0, 0, 0),
            ("W", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL), ("W", PR_SET_PDEATHSIG, SIGKILL)]
    env = [e for e in process["env"] if not is_call_variable(e)] + [f"_PYCONTAIN_GO_FD={GO_FD}"]
    args = process["args"]
    unshare = ("U", namespace_flags(spec) & ~CLONE_NEWPID)  # the pid namespace: the clone's
    return [unshare], ops + [("E", args[0], len(args), *args, *env)]


def _with_helper(rootfs_ops: list, process_ops: list) -> list:
    """The ops in order, but that the unmount of the old root after the pivot
    and bringing lo up are a helper's (op Y, see csrc/plan.c), for the
    runner to wait for (HELPER_VARIABLE)."""
    pivot = next((i for i, op in enumerate(rootfs_ops) if op[0] == "P"), None)
    if pivot is None or rootfs_ops[pivot + 1:pivot + 2] != [("u", ".", MNT_DETACH)]:
        return rootfs_ops + process_ops
    helped = [rootfs_ops[pivot + 1], *(op for op in process_ops if op == ("I",))]
    process_ops = [op for op in process_ops if op != ("I",)]
    exec_op = process_ops[-1]
    process_ops[-1] = exec_op + (f"{HELPER_VARIABLE}=1",)
    return [*rootfs_ops[:pivot + 1], ("Y", len(helped)), *helped, *rootfs_ops[pivot + 2:],
            *process_ops]


def _argument(value) -> bytes:
    if value is None:
        return b"\xff\xff\xff\xff"
    if isinstance(value, int):
        value = str(value & 0xFFFFFFFFFFFFFFFF)
    raw = value if isinstance(value, bytes) else os.fsencode(value)
    return len(raw).to_bytes(4, "little") + raw + b"\0"


def _op(op: tuple) -> bytes:
    return (op[0].encode() + (len(op) - 1).to_bytes(2, "little")
            + b"".join(_argument(a) for a in op[1:]))


def _section(data: bytes) -> bytes:
    return len(data).to_bytes(4, "little") + data


def _stamps_section(op) -> bytes:
    return _section(b"" if op is None or len(op) - 1 > MAX_ARGS else _op(op))


def sections(data: bytes) -> tuple:
    """(stamps, basis) of a plan file's bytes, as stored, and the ops that
    follow them; ValueError if it is not one."""
    if not data.startswith(MAGIC):
        raise ValueError("not a plan")
    parts, at = [], len(MAGIC)
    for _ in range(2):
        size = int.from_bytes(data[at:at + 4], "little")
        parts.append(data[at + 4:at + 4 + size])
        at += 4 + size
    return parts[0], parts[1], data[at:]


class Recording:
    """What the plan of a call's jail holds besides its root file system's
    ops: gathered while the jail is being built (invoke.run_call), written
    with those ops once they are known, or as new stamps of a plan that fits."""

    def __init__(self, key: str, cfg, event_source, inputs: list, spec: dict, ctx,
                 installed=None):
        """inputs: input_fingerprints(cfg), taken before spec was built;
        installed: installed_fingerprints(), if taken already for this call."""
        installed = installed or installed_fingerprints()
        self.key = key
        if inputs != input_fingerprints(cfg):  # changed meanwhile: which one did the spec see?
            inputs = [(path, "?") for path, _ in inputs]
        self.stamps = _stamps_section(stamps(key, cfg, event_source, inputs, installed))
        self.basis = _section(marshal.dumps(basis(spec, ctx, installed)))
        self.process_ops = _process_ops(spec, ctx)  # None: this jail cannot be planned

    def save(self, rootfs_ops: list) -> None:
        """Write the plan of the jail just built, whose set-up made rootfs_ops."""
        if self.process_ops is None:
            return
        ops = self.process_ops[0] + _with_helper(list(rootfs_ops), self.process_ops[1])
        if all(len(op) - 1 <= MAX_ARGS for op in ops):
            data = (MAGIC + self.stamps + self.basis + len(ops).to_bytes(4, "little")
                    + b"".join(_op(op) for op in ops))
            _write(self.key, data if len(data) <= MAX_PLAN else None)

    def keep(self, launch, planned) -> None:
        """Once the call runs (launch: a oci.launch.Launch): the plan of
        the jail it built, or, if it runs in a planned jail (fn.planned), new
        stamps for that jail's plan, which fits but whose stamps did not hold."""
        rootfs_ops = ops_of(launch)
        if rootfs_ops is not None:
            self.save(rootfs_ops)
        elif planned is not None and planned.data:
            self.restamp(planned.data)

    def restamp(self, data: bytes) -> None:
        """Give the plan that still fits (data: its file) the stamps of now."""
        _, raw_basis, ops = sections(data)
        _write(self.key, MAGIC + self.stamps + _section(raw_basis) + ops)


def _write(key: str, data) -> None:
    """Best effort: a cache that cannot be written only means no planned jail
    next time. Beyond MAX_PLANS, the plans written longest ago are removed."""
    from pycontain import paths
    from pycontain.fsutil import write_atomic

    if data is None:
        return
    try:
        directory = paths.ensure_dir(paths.cache_path("plans"))
        write_atomic(plan_path(key), data, sync=False)
        plans = [os.path.join(directory, name) for name in os.listdir(directory)
                 if len(name) == 16]  # not another writer's temporary file
        if len(plans) > MAX_PLANS:
            for path in sorted(plans, key=_written)[:len(plans) - MAX_PLANS]:
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
