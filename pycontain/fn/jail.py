"""The function jail: an OCI spec and init context for one handler call.

Fresh pid, mount, uts, ipc and (unless network is asked for) net namespaces;
the image's layers as a read-only root (overlay with a tmpfs upper, so nothing
touches the disk); with the network, the host's /etc/resolv.conf and
/etc/hosts read-only (as a container sharing the host's network sees them);
the code read-only at /var/task; the runner read-only at /var/runtime; a
fresh size-capped tmpfs /tmp. The handler runs as an
unprivileged user: no capabilities, no_new_privs so nothing it execs can gain
any, docker's default seccomp profile. Limits are rlimits (see `limits`); the
caller's environment, files and descriptors never enter. As root the C
executor builds the jail from the spec's description, rootless the OCI core
(see `starter`).

As root, each jail has a host uid of its own (group 990, Lambda's sandbox
group): SANDBOX_UID_BASE + the host pid of the jail's PID 1 (fn.oneshot.describe's op
J, which csrc/jail_exec.c runs: for calls and zygotes alike). The kernel counts
RLIMIT_NPROC, pending signals, inotify instances, key quotas... per uid, so a
uid shared by all jails would let one handler exhaust them for every other;
and a pid is unique while its process lives, which every process of the jail
dies before (PID 1 of its pid namespace): no allocation, no lock, nothing to
leak when a server is killed.
"""
import os
import _signal as signal  # not `signal`: its enum import costs ~4 ms per start
import stat
import sys

from pycontain.fn.environment import BASE, lambda_env, parse_env
from pycontain.oci.defaults import (MASKED_PATHS, READONLY_PATHS, default_devices,
                                    default_mounts)
from pycontain.oci.context import InitContext
from pycontain.oci.security import seccomp
from pycontain.record import Record

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "injail", "runner.py")
RUNTIME_DIR = "/var/runtime"
RUNNER_IN_JAIL = f"{RUNTIME_DIR}/runner.py"
PYC_NAME = f"runner.{sys.implementation.cache_tag}.pyc"
# imported, not run as a script, so that its bytecode is not compiled on every call;
# then forgotten by name, so the handler may have a module called `runner` too
BOOT = (f"import sys; sys.path.insert(0, {RUNTIME_DIR!r}); import runner as r; "
        "del sys.path[0], sys.modules['runner']; r.run()")
TASK_ROOT = "/var/task"
SANDBOX_UID_BASE = 0x70000000         # root jails' uids: this + a pid (below 2**22, the
                                      # kernel's PID_MAX_LIMIT): above systemd's container
                                      # ranges, below 2**31
SANDBOX_GID = 990                     # Lambda's sandbox group (its sbx_user1051 is 993:990)
TMP_SIZE = "512m"                     # Lambda's default ephemeral storage
MAX_PROCESSES = 1024                  # Lambda's limit on processes and threads
MAX_OPEN_FILES = 1024
MAX_COMPILED = 4 * 1024 * 1024      # a larger single-file handler is compiled by the jail's python
BYTECODE_FORMAT = 3                  # in the cache's file names (1 held the handler's host
                                     # path; 3: named by path and name in /var/task)
UNUSED_MOUNTS = ("/dev/pts", "/dev/mqueue")  # no terminal, no POSIX queues (as in Lambda)


class JailConfig(Record):
    """What one call needs: the code, the handler and the function's settings."""
    FIELDS = {"code": "", "handler": "", "function_name": "", "memory_mb": 128,
              "timeout": 3.0, "env": [], "network": False, "image": "python"}
    __slots__ = tuple(FIELDS)


def sandbox_can_read(code: str) -> bool:
    """Whether the sandbox user (others, to the owner of the host's files)
    can read code, a file or a directory (and list it), by its mode bits."""
    mode = os.stat(code).st_mode
    return mode & (0o005 if stat.S_ISDIR(mode) else 0o004) != 0


def _ro_bind(source: str, destination: str) -> dict:
    return {"destination": destination, "type": "bind", "source": source,
            "options": ["bind", "ro", "nosuid", "nodev"]}


def bytecode(source: str, pyc: str, by_hash: bool = False, shown_as: str = None):
    """pyc, the bytecode of source as python's import writes it, after
    rewriting it if missing or stale; None if it cannot be written or the
    source does not compile (the jail's python then compiles the source in
    memory: slower, same result). Compiling never runs the code. The header
    holds the source's mtime and size, or (by_hash) a hash of its content
    (python's checked hash-based bytecode); the jail's python checks either.
    shown_as: the source's path in the code objects (default: source's own)."""
    import _frozen_importlib_external as bootstrap
    import _imp

    try:
        with open(pyc, "rb") as f:
            header = f.read(16)
    except OSError:
        header = b""
    if by_hash:
        source_mode, data = _read_regular(source)
        stamp = _imp.source_hash(bootstrap._RAW_MAGIC_NUMBER, data)
        fresh = header[4:8] == (3).to_bytes(4, "little") and header[8:] == stamp
    else:
        st = os.stat(source)
        stamp = bootstrap._pack_uint32(int(st.st_mtime)) + bootstrap._pack_uint32(st.st_size)
        fresh = header[4:8] != bytes(4) or header[8:] == stamp  # hash-based: python checks
    if header[:4] == bootstrap.MAGIC_NUMBER and fresh:
        return pyc
    if by_hash:
        return _compiled(data, source_mode, stamp, pyc, shown_as or source)
    try:
        import py_compile
        py_compile.compile(source, cfile=pyc, dfile=shown_as, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
        return pyc
    except (OSError, py_compile.PyCompileError, ValueError, RecursionError, MemoryError):
        return None


def _compiled(data: bytes, mode: int, stamp: bytes, pyc: str, shown_as: str):
    """pyc, written with the checked-hash bytecode of data (a source's bytes
    as read once: what was hashed is what is compiled); None if it cannot be."""
    import _frozen_importlib_external as bootstrap

    from pycontain.fsutil import write_atomic
    try:
        code = compile(data, shown_as, "exec", dont_inherit=True)
        write_atomic(pyc, bytes(bootstrap._code_to_hash_pyc(code, stamp, checked=True)),
                     mode=mode & 0o644 | 0o600, sync=False)
        return pyc
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _read_regular(path: str) -> tuple:
    """(mode, content) of a regular file of at most MAX_COMPILED bytes,
    opened with no symlink on its path (path is a real path: one there now
    was put there since, and root must not read through it); OSError
    otherwise (a FIFO or device must not block the engine, nor a huge file
    fill it)."""
    parts = [p for p in path.split("/") if p]
    if not path.startswith("/") or not parts:
        raise OSError(f"{path}: not an absolute path")
    dir_fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC,
                     dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_COMPILED:
            raise OSError(f"{path}: not a regular file of at most {MAX_COMPILED} bytes")
        with open(fd, "rb", closefd=False) as f:
            return st.st_mode, f.read(MAX_COMPILED + 1)
    finally:
        os.close(fd)


def runner_bytecode():
    """The runner's bytecode (the file an import or pip writes), see bytecode()."""
    return bytecode(RUNNER, os.path.join(os.path.dirname(RUNNER), "__pycache__", PYC_NAME))


def _handler_bytecode_mounts(code: str, name: str) -> list:
    """A single-file handler's bytecode, compiled once into the store's cache and
    bound where the jail's python looks for it (/var/task/__pycache__), as an
    import would have written it if /var/task were writable: no compile per call.
    Checked against a hash of the source, not its mtime, so an edit within the
    same second is never missed. Used only by a python with our cache tag (the
    bundled image's); any other ignores it. code: a file's real path; name:
    what it is called in /var/task."""
    if not name.endswith(".py"):
        return []
    from _sha256 import sha256  # hashlib would load OpenSSL

    from pycontain import paths
    cache = paths.ensure_dir(paths.cache_path("bytecode"))
    tag = sys.implementation.cache_tag
    shown_as = f"{TASK_ROOT}/{name}"  # never the host path (the pyc is readable)
    digest = sha256(os.fsencode(code) + b"\0" + os.fsencode(shown_as)).hexdigest()
    cached = f"{digest}.{tag}.{BYTECODE_FORMAT}.pyc"
    try:
        pyc = bytecode(code, os.path.join(cache, cached), by_hash=True, shown_as=shown_as)
    except OSError:
        return []  # not a regular file, or too big: the jail's python compiles it (or fails)
    return [_ro_bind(pyc, f"{TASK_ROOT}/__pycache__/{name[:-3]}.{tag}.pyc")] if pyc else []


def code_mounts(code: str) -> list:
    """A directory becomes /var/task; a single file appears alone inside it,
    with its bytecode, under the name it was given (a symlink's own, which
    names the handler's module)."""
    real = os.path.realpath(code)
    if os.path.isdir(real):
        return [_ro_bind(real, TASK_ROOT)]
    name = os.path.basename(code)
    return [_ro_bind(real, f"{TASK_ROOT}/{name}"), *_handler_bytecode_mounts(real, name)]


def limits(cfg: JailConfig) -> list:
    """rlimits: address space = the function's memory size, processes/threads,
    CPU seconds (a backstop to the wall-clock timeout), open files, no core."""
    cpu = int(cfg.timeout) + 1
    memory = cfg.memory_mb * 1024 * 1024
    return [{"type": t, "soft": s, "hard": h} for t, s, h in (
        ("RLIMIT_AS", memory, memory), ("RLIMIT_NPROC", MAX_PROCESSES, MAX_PROCESSES),
        ("RLIMIT_CPU", cpu, cpu + 1), ("RLIMIT_NOFILE", MAX_OPEN_FILES, MAX_OPEN_FILES),
        ("RLIMIT_CORE", 0, 0))]


def mount_points() -> tuple:
    """Where a jail mounts something over the image (see jail_spec)."""
    return (*(m["destination"] for m in default_mounts() if m["destination"] not in UNUSED_MOUNTS),
            TASK_ROOT, RUNTIME_DIR, "/tmp")


def jail_path(cfg: JailConfig) -> str:
    """The PATH the handler's process has (Lambda's, or the function's own)."""
    return parse_env(cfg.env).get("PATH", BASE["PATH"])


def _runner_mounts() -> list:
    pyc = runner_bytecode()
    return [_ro_bind(RUNNER, RUNNER_IN_JAIL),
            *([_ro_bind(pyc, f"{RUNTIME_DIR}/__pycache__/{PYC_NAME}")] if pyc else [])]


def jail_spec(cfg: JailConfig, request_id: str, deadline_ms: int) -> dict:
    """The OCI runtime spec of one jailed call (as root, fn.oneshot.describe compiles
    it for the C executor; rootless, the OCI core builds it)."""
    mounts = [m for m in default_mounts() if m["destination"] not in UNUSED_MOUNTS] + [
        *code_mounts(cfg.code), *_runner_mounts(),
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "mode=1777", f"size={TMP_SIZE}"]},
    ]
    if cfg.network:  # the host's network: its resolver and hosts files, as a container's
        from pycontain.engine.hostfiles import host_network_files
        mounts += [_ro_bind(src, dst) for dst, src in host_network_files().items()]
    namespaces = ["pid", "ipc", "uts", "mount"] + ([] if cfg.network else ["network"])
    spec = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": SANDBOX_UID_BASE, "gid": SANDBOX_GID, "additionalGids": []},
            "args": ["python3", "-I", "-S", "-B", "-c", BOOT],
            "env": lambda_env(cfg, request_id, deadline_ms),
            "cwd": TASK_ROOT,
            "rlimits": limits(cfg),
            "noNewPrivileges": True,
            "capabilities": {k: [] for k in ("bounding", "effective", "inheritable",
                                             "permitted", "ambient")},
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "localhost",
        "mounts": mounts,
        "linux": {"namespaces": [{"type": t} for t in namespaces],
                  "devices": default_devices(), "maskedPaths": MASKED_PATHS,
                  "readonlyPaths": READONLY_PATHS, "resources": {},
                  "seccomp": death_signal_kept(seccomp.resolve("default", ()))},
    }
    return spec if os.geteuid() == 0 else _rootless(spec)


def death_signal_kept(oci: dict) -> dict:
    """oci (a seccomp section) where prctl(PR_SET_PDEATHSIG) may set SIGKILL
    only: the jail's PID 1 dies with its engine or launcher (killed -9 too),
    and a handler that cleared or changed that signal would outlive it. prctl's
    option is an int: any 64-bit value whose low half is 1 is PR_SET_PDEATHSIG
    (a masked compare; libseccomp has no masked "not equal", so the options
    allowed are: even ones, and odd ones by their lowest set bit above bit 0)."""
    high = 0xFFFFFFFF00000000

    def allowed(index: int, value: int, value_two: int, op: str) -> dict:
        return {"names": ["prctl"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": index, "value": value, "valueTwo": value_two, "op": op}]}
    rules = [dict(rule, names=[name for name in rule["names"] if name != "prctl"])
             if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args") else rule
             for rule in oci["syscalls"]]
    rules += [allowed(1, int(signal.SIGKILL), 0, "SCMP_CMP_EQ"),
              allowed(0, high | 1, 0, "SCMP_CMP_MASKED_EQ"),
              *(allowed(0, high | (2 << bit) - 1, 1 << bit | 1, "SCMP_CMP_MASKED_EQ")
                for bit in range(1, 32))]
    return dict(oci, syscalls=[rule for rule in rules if rule["names"]])


def _rootless(spec: dict) -> dict:
    """A user namespace too, mapping only the caller's uid and gid, each to
    itself (podman's keep-id); the handler runs as them (a sandbox uid would
    need an /etc/subuid range), not as the namespace's root: a zygote's spares
    map their parent's ids in user namespaces of their own, which for uid 0
    takes CAP_SETFCAP (Linux 5.12 on), a capability no jail keeps."""
    from pycontain.oci.userns import make_rootless
    spec["process"]["user"] = {"uid": os.geteuid(), "gid": os.getegid(), "additionalGids": []}
    return make_rootless(spec, keep_id=True)


def jail_context(spec: dict, store_root: str, layer_dirs: list,
                 mount_point: str) -> InitContext:
    """The init's context of a jail built on mount_point, an empty host
    directory every jail may share: each mounts its own tmpfs there, in its
    own mount namespace."""
    namespaces = [ns["type"] for ns in spec["linux"]["namespaces"]]
    return InitContext(
        rootfs=mount_point,
        overlay={"base": store_root, "volatile": "1m",
                 "lower": [os.path.relpath(d, store_root) for d in layer_dirs]},
        hostname="localhost",
        loopback="network" in namespaces,
        seccomp=seccomp.program(spec["linux"]["seccomp"]),
    )


def starter(spec: dict, ctx: InitContext) -> tuple:
    """(start, description) for the jail of spec and ctx (a call's or a
    zygote's): start(fds) starts it with fds on its 0, 1 and 2 and returns an
    oci.launch.Launch. As root the C executor builds it from its
    description (fn.oneshot.describe's encode, no stamps); rootless
    (description None) the OCI core does, as a user namespace needs its id maps written from outside.
    Either way it dies with the thread that started it if ctx.die_with_parent."""
    if os.geteuid() == 0:
        from pycontain.fn.oneshot.describe import compile_jail, encode, spawner
        description = encode(compile_jail(spec, ctx))
        return spawner(description, spec), description
    from pycontain.oci.process import spawn
    return (lambda fds: spawn(spec, ctx, fds)), None
