"""Jail descriptions: a function jail, compiled by the engine, built in C.

The engine turns a jail's OCI spec and init context (fn.jail) into a list of
intent-level ops; one C executor (csrc/jail_exec.c) builds the jail from it:
as root, every one-shot call (`fn exec`, `fn invoke`) and every `fn serve`
zygote's base jail starts so (fn.jail.starter). The engine
hands a fresh description to the executor through the native module
(native.jail_spawn), and, for `fn exec`, caches it under the invocation's key
(the launcher's name for argv but --event's value, the working directory,
the kept variables, its own directory) with stamps: the files the call was
made from. While those hold, the launcher (csrc/launcher.c) runs the same
executor on the cached description and the call itself (csrc/call.c), and no
engine starts. The rules (mounts, masks, devices, lockdown) live in Python
only: the oci defaults and fn.jail make the spec, this module compiles it; the
executor knows ops, not rules. Rootless calls keep the OCI core's path.

The file, <store>/cache/plans/NAME (root's, 0600, in the store's 0700 cache):
b"PYCJAIL1"; u32 n, n bytes: the stamps (one op T, or none); u32 count of
ops, then each op: u8 code, u16 count of arguments, each argument u32 length,
the bytes, a NUL (length 0xFFFFFFFF: a null argument, no bytes). Integers are
decimal text. All numbers little-endian. native.jail_spawn takes the same
bytes. T's arguments are listed at `stamps`.

The ops, in the order they run. The first is U (with CLONE_NEWNS), the last
E; paths "in the root" are resolved by the executor below the root's
descriptor with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
RESOLVE_NO_MAGICLINKS): an image symlink on a mount destination is refused.

    U flags              unshare(flags)
    p                    make / and everything below it private (MS_REC)
    Q dir size           a tmpfs on the host directory dir (nosuid, nodev,
                         size=SIZE, mode=0755) with dirs upper, work, root:
                         the root is dir/root from now on
    o base lowers flags  overlay on the root: lowerdir=lowers (':'-joined,
                         top first, relative to base), upper and work of Q
    m type src dst flags data
                         mount a kernel file system at dst in the root
                         (a directory, made if missing; data may be null)
    b src dst flags      bind the host's src (a real path: a symlink
                         anywhere on it is refused) on dst in the root (made if missing: a
                         directory for a directory, else an empty file);
                         flags (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC)
                         set by a bind remount that keeps the source mount's
    l target dst         a symlink at dst in the root unless dst exists
    P                    pivot into the root (chdir to it, pivot_root . .)
    Y count              the next count ops are a helper's (a child, PID 2,
                         which the runner waits for: HELPER_VARIABLE)
    u path flags         umount2 (the old root, after P)
    I                    bring lo up
    Z path               masked path: none there, nothing; a directory gets
                         an empty read-only tmpfs, else /dev/null is bound
    z path               read-only path: bound on itself, remounted
                         read-only, nosuid, nodev, noexec
    r                    remount / read-only
    H name               sethostname
    R resource soft hard setrlimit
    A path mode          make a directory and its parents (exist_ok)
    d path               chdir
    W option value       prctl(option, value); PR_SET_PDEATHSIG fails if
                         the starter is gone already (no reader on err)
    S bpf                load the seccomp program
    B cap                drop cap from the bounding set (gone already: fine)
    G gid...             setgroups
    g gid                setresgid
    V uid                setresuid
    J base               setresuid to base + the jail's host pid
    K eff perm inh       capset
    E name count argv... env...
                         exec name (looked up on the env's PATH) with argv
"""
import os

MAGIC = b"PYCJAIL1"
MAX_DESCRIPTION = 1 << 20            # csrc/jail_exec.c refuses larger ones
MAX_ARGS = 1024                      # per op, as csrc/jail_exec.c
GO_FD = 3                            # where the jail's runner finds its go-ahead
HELPER_VARIABLE = "_PYCONTAIN_HELPER"  # set: the runner first waits for the set-up's helper


def _argument(value) -> bytes:
    if value is None:
        return b"\xff\xff\xff\xff"
    if isinstance(value, int):
        value = str(value & 0xFFFFFFFFFFFFFFFF)
    raw = value if isinstance(value, bytes) else os.fsencode(value)
    return len(raw).to_bytes(4, "little") + raw + b"\0"


def encode_op(op: tuple) -> bytes:
    """One op: its code, then its arguments (str, bytes, int or None)."""
    return (op[0].encode() + (len(op) - 1).to_bytes(2, "little")
            + b"".join(_argument(a) for a in op[1:]))


def encode(ops: list, stamps_op=None) -> bytes:
    """A description's bytes: ops, with the stamps (an op T) or none."""
    body = len(ops).to_bytes(4, "little") + b"".join(encode_op(op) for op in ops)
    return with_stamps(MAGIC + b"\0\0\0\0" + body, stamps_op)


def with_stamps(description: bytes, stamps_op) -> bytes:
    """A stamp-less description (encode(ops)) with the stamps op instead,
    without encoding its ops again."""
    if stamps_op is None:
        return description
    stamps = encode_op(stamps_op)
    return (MAGIC + len(stamps).to_bytes(4, "little") + stamps
            + description[len(MAGIC) + 4:])


MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_KEEPCAPS = 1, 38, 8
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SIGKILL = 9
CAPABILITIES = 64                    # numbers a capability may have: a kernel has fewer


def is_call_variable(entry: str) -> bool:
    """Whether entry (NAME=VALUE) is one of a call's own, given at the go-ahead."""
    from pycontain.fn.environment import CALL_VARIABLES
    return entry.partition("=")[0] in CALL_VARIABLES


def _root_ops(spec: dict, ctx) -> list:
    """The root file system, as oci.rootfs.setup_rootfs builds it for a
    function jail (an overlay on a volatile tmpfs, a nodev /dev whose device
    nodes are the host's, bound): up to the pivot."""
    from pycontain import native as n
    from pycontain.oci.mounts import REMOUNT_MASK, parse_options
    from pycontain.oci.defaults import DEV_SYMLINKS

    mounts, linux, overlay = spec["mounts"], spec["linux"], ctx.overlay
    nodev = any(m["destination"] == "/dev" and "nodev" in m["options"] for m in mounts)
    if not (overlay and overlay.get("volatile") and nodev) or linux.get("rootfsPropagation"):
        raise ValueError("not a function jail's root file system")
    ops = [("p",), ("Q", ctx.rootfs, overlay["volatile"]),
           ("o", overlay["base"], ":".join(reversed(overlay["lower"])), n.MS_NODEV)]
    for entry in mounts:
        flags, propagation, data = parse_options(entry.get("options", ()))
        kind = entry.get("type") or "bind"
        if propagation or flags & n.MS_REC:
            raise ValueError(f"{entry['destination']}: not a function jail's mount")
        if kind == "bind" or flags & n.MS_BIND:
            ops.append(("b", os.path.realpath(entry["source"]), entry["destination"],
                        flags & REMOUNT_MASK))
        else:
            ops.append(("m", kind, entry.get("source") or kind, entry["destination"], flags,
                        data))
    ops += [("b", os.path.realpath(dev.get("hostPath", dev["path"])), dev["path"], 0)
            for dev in linux.get("devices", ())]
    ops += [("l", target, f"/dev/{name}") for name, target in DEV_SYMLINKS.items()
            if name != "core" or os.path.exists("/proc/kcore")]
    return ops


def _pivot_ops(spec: dict, ctx) -> list:
    """The pivot, then what a helper does meanwhile (the old root's unmount
    and lo: both wait for an RCU grace period), the masks and the read-only root."""
    linux = spec["linux"]
    helped = [("u", ".", MNT_DETACH), *([("I",)] if ctx.loopback else [])]
    ops = [("P",), ("Y", len(helped)), *helped, ("d", "/")]
    ops += [("Z", path) for path in linux.get("maskedPaths", ())]
    ops += [("z", path) for path in linux.get("readonlyPaths", ())]
    return ops + ([("r",)] if spec.get("root", {}).get("readonly") else [])


def _process_ops(spec: dict, ctx) -> list:
    """What the jail's init does after the root file system (oci.nsinit with
    oci.security.lockdown.drop_privileges), then the exec: the handler's uid
    is the spec's plus the jail's host pid (fn.jail's module doc says why).
    The death signal is SIGKILL with ctx.die_with_parent, armed last (a set*id
    or capset clears it); else the executor's own, which guards the set-up, is
    cleared before the seccomp program, which allows setting SIGKILL only (a
    zygote outlives the thread that started it: fn.jail.death_signal_kept)."""
    import resource

    process = spec["process"]
    user, sets = process.get("user", {}), process.get("capabilities") or {}
    if any(sets.values()) or user.get("additionalGids") or not process.get("noNewPrivileges") \
            or not ctx.seccomp:
        raise ValueError("not a function jail's process")
    ops = [("H", ctx.hostname)] if ctx.hostname else []
    ops += [("R", getattr(resource, r["type"]), r["soft"], r["hard"])
            for r in process.get("rlimits", ())]
    cwd = process.get("cwd", "/")
    disarm = [] if ctx.die_with_parent else [("W", PR_SET_PDEATHSIG, 0)]
    ops += [("A", cwd, 0o755), ("d", cwd), ("W", PR_SET_NO_NEW_PRIVS, 1), *disarm,
            ("S", ctx.seccomp)]
    ops += [("B", cap) for cap in range(CAPABILITIES)]  # those this kernel has
    ops += [("W", PR_SET_KEEPCAPS, 1), ("G",), ("g", user.get("gid", 0)), ("J", user.get("uid", 0)),
            ("W", PR_SET_KEEPCAPS, 0), ("K", 0, 0, 0),
            ("W", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)]
    ops += [("W", PR_SET_PDEATHSIG, SIGKILL)] if ctx.die_with_parent else []
    env = [e for e in process["env"] if not is_call_variable(e)]
    env += [f"_PYCONTAIN_GO_FD={GO_FD}", f"{HELPER_VARIABLE}=1"]
    args = process["args"]
    return ops + [("E", args[0], len(args), *args, *env)]


def compile_jail(spec: dict, ctx) -> list:
    """The ops that build the jail of spec (a fn.jail.jail_spec, or a
    zygote's, root's: no user namespace) with ctx (its
    oci.context.InitContext), up to the exec of its command, which then
    waits for its go-ahead (runner.await_go).
    ValueError for a spec that is not a function jail's."""
    from pycontain.namespaces import CLONE_NEWNS, CLONE_NEWPID, namespace_flags

    types = {ns["type"] for ns in spec["linux"]["namespaces"]}
    flags = namespace_flags(spec)
    if types & {"user", "cgroup"} or not flags & CLONE_NEWPID or not flags & CLONE_NEWNS:
        raise ValueError("not a function jail's namespaces")
    ops = [("U", flags & ~CLONE_NEWPID), *_root_ops(spec, ctx), *_pivot_ops(spec, ctx),
           *_process_ops(spec, ctx)]
    if any(len(op) - 1 > MAX_ARGS for op in ops):
        raise ValueError("an op with too many arguments")
    return ops


def spawner(description: bytes, spec: dict):
    """start(fds) for fn.outcome.with_call_fds: the jail of description
    (encode(ops), no stamps), built by the
    C executor with fds on its 0, 1 and 2, handed spec's call variables at
    the go-ahead; an oci.launch.Launch whose start() raises what a failed
    set-up reported ("CODE:message" on the error pipe)."""
    from pycontain import native
    from pycontain.oci.launch import Launch

    call_env = "\0".join(e for e in spec["process"]["env"] if is_call_variable(e)).encode()

    def start(fds):
        event_fd, result_w, log_w = fds
        go_r, go_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = native.jail_spawn(description, event_fd, result_w, log_w, go_r, err_w)
            os.write(go_w, call_env)  # a few hundred bytes: the pipe holds them
        except BaseException:
            os.close(err_r)
            raise
        finally:
            for fd in (go_r, go_w, err_w):
                os.close(fd)
        return Launch(pid, None, err_r)
    return start


def sections(data: bytes) -> tuple:
    """(the stamps, the ops) of a description's bytes, as stored (the count
    of ops first); ValueError if it is not one."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        raise ValueError("not a jail description")
    at = len(MAGIC)
    size = int.from_bytes(data[at:at + 4], "little")
    return data[at + 4:at + 4 + size], data[at + 4 + size:]
