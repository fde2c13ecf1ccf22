"""`create`, `start` and `run`: a bundle's container, set up and blocked
before exec until `start`, as runc does it (the exec fifo).

create: the container's init is spawned (oci.process) with the bundle's
root used as it is; prestart/createRuntime hooks run once its namespaces
exist; its cgroup is made at linux.cgroupsPath; `create` returns when the init
has done everything but exec and waits on ROOT/ID/exec.fifo. `start`
(runc/starting.py, apart: it must load little) opens the fifo, which lets the
init exec. The caller (conmon, containerd's shim) reaps it.
"""
import os
import struct

from pycontain.errors import PycontainError
from pycontain.fsutil import remove_tree, write_atomic
from pycontain.jsonio import parse
from pycontain.oci import hooks
from pycontain.runc import cgroup, specshape
from pycontain.runc.state import FIFO, Container, RuncError, now_rfc3339, start_time


def load_bundle(bundle: str) -> tuple:
    """(absolute bundle, spec, absolute rootfs) of a bundle directory."""
    bundle = os.path.abspath(bundle or ".")
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise RuncError(f"JSON specification file config.json not found in {bundle}") from None
    except OSError as exc:
        raise RuncError(f"cannot read {bundle}/config.json: {exc.strerror}") from None
    spec = specshape.check(parse(data, "config.json"), specshape.SPEC, "config.json")
    if "process" not in spec:
        raise RuncError("process property must not be empty")
    if not spec["process"].get("args"):
        raise RuncError("config.json: process.args must not be empty")
    rootfs = _rootfs(bundle, spec.get("root", {}).get("path") or "rootfs")
    _add_default_devices(spec)
    _add_device_rules(spec)
    _expand_cgroup_mount(spec)
    return bundle, spec, rootfs


def _rootfs(bundle: str, root: str) -> str:
    """The absolute rootfs, refused as runc refuses it if a symlink leads there
    (but for the bundle's own path, which runc resolves as its working directory)."""
    rootfs = os.path.normpath(root if root.startswith("/")
                              else os.path.join(os.path.realpath(bundle), root))
    if not os.path.isdir(rootfs):
        raise RuncError(f"rootfs ({rootfs}) does not exist")
    if os.path.realpath(rootfs) != rootfs:
        raise RuncError("invalid rootfs: not an absolute path, or a symlink")
    return rootfs


def _add_device_rules(spec: dict) -> None:
    """The device cgroup as runc builds it: the bundle's rules (else deny all),
    then the default devices and the bundle's linux.devices allowed."""
    from pycontain.oci.defaults import default_device_rules, device_rule
    linux = spec.setdefault("linux", {})
    res = linux.get("resources") or {}
    rules = list(res.get("devices") or ()) or [device_rule(False)]
    rules += [rule for rule in default_device_rules() if rule["allow"]]
    rules += [device_rule(True, "b" if d.get("type") == "b" else "c", d.get("major"),
                          d.get("minor"))
              for d in linux.get("devices") or () if d.get("type", "c") in ("c", "b", "u")]
    linux["resources"] = dict(res, devices=rules)


def _expand_cgroup_mount(spec: dict) -> None:
    """A `cgroup` mount naming no controller is runc's whole /sys/fs/cgroup:
    cgroup2 on v2, on v1 a tmpfs with each hierarchy (oci.cgroups.ocispec)."""
    from pycontain.oci.cgroups import ocispec
    out = []
    for m in spec.get("mounts") or ():
        if m.get("type") != "cgroup" or m.get("destination") != "/sys/fs/cgroup":
            out.append(m)
            continue
        if _userns(spec):  # a user namespace may not mount v1 hierarchies: bind the host's
            out.append({"destination": "/sys/fs/cgroup", "type": "bind",
                        "source": "/sys/fs/cgroup",
                        "options": ["rbind", "ro", "nosuid", "noexec", "nodev"]})
            continue
        out.extend(ocispec.mounts())
        if "ro" in (m.get("options") or ()):
            linux = spec.setdefault("linux", {})
            linux["readonlyPaths"] = list(linux.get("readonlyPaths") or ()) + \
                [p for p in ocispec.readonly_paths()
                 if p not in (linux.get("readonlyPaths") or ())]
    spec["mounts"] = out


def _add_default_devices(spec: dict) -> None:
    """The devices every OCI container has (/dev/null, zero, full, random,
    urandom, tty) unless the bundle lists them, or binds a /dev of its own."""
    from pycontain.oci.defaults import default_devices
    if any(m.get("destination") == "/dev" and ("bind" in (m.get("options") or ())
                                                or m.get("type") == "bind")
           for m in spec.get("mounts") or ()):
        return
    linux = spec.setdefault("linux", {})
    listed = list(linux.get("devices") or ())
    have = {d.get("path") for d in listed}
    linux["devices"] = [d for d in default_devices() if d["path"] not in have] + listed


def _userns(spec: dict) -> bool:
    return "user" in _new_namespaces(spec)


def _new_namespaces(spec: dict) -> set:
    return {ns["type"] for ns in (spec.get("linux") or {}).get("namespaces", ())
            if not ns.get("path")}


def _fifo_waiter(fifo_fd: int):
    """In the init, last before exec: block until `start` opens the fifo."""
    def wait():
        fd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        os.close(fd)
    return wait


def console_size(process: dict):
    size = process.get("consoleSize") or {}
    if not size:
        return None
    return struct.pack("HHHH", size.get("height", 0), size.get("width", 0), 0, 0)


def _context(spec: dict, rootfs: str, fifo_fd: int, preserve_fds: int, group,
             state: dict):
    """The init's oci.context.InitContext."""
    from pycontain.oci.context import InitContext

    linux = spec.get("linux") or {}
    new = _new_namespaces(spec)
    kinds = {ns["type"] for ns in linux.get("namespaces", ())}
    if spec.get("hostname") and "uts" not in kinds:
        raise RuncError("unable to set hostname without a UTS namespace")
    ctx = InitContext(rootfs=rootfs, hostname=spec.get("hostname"), loopback="network" in new,
                      keep_fds=[fifo_fd, *range(3, 3 + preserve_fds)],
                      await_start=_fifo_waiter(fifo_fd))
    if "mount" not in kinds:
        raise RuncError("a mount namespace is required")
    check_caps(spec["process"])
    if group is not None and "user" not in new:  # in a user namespace: the runtime moves it
        ctx.cgroup_join = group.self_join_files()
    _container_hooks(spec, state, ctx)
    return ctx


def _container_hooks(spec: dict, state: dict, ctx) -> None:
    """createContainer and startContainer hooks, run by the init itself (in its
    namespaces) with the state, its host pid read before pivot_root: set on ctx."""
    stages = (spec.get("hooks") or {})
    if not stages.get("createContainer") and not stages.get("startContainer"):
        return
    seen = dict(state)

    def before_pivot():
        seen.update(pid=int(os.readlink("/proc/self")), status="created")
        hooks.run(spec, "createContainer", seen)

    ctx.before_pivot = before_pivot
    ctx.after_start = lambda: hooks.run(spec, "startContainer", dict(seen, status="running"))


def check_caps(process: dict) -> None:
    """A capability the runtime does not hold cannot be granted: fail as runc
    does, rather than start the process with less than it asked for."""
    from pycontain.oci.security.caps import NUMBERS
    with open("/proc/self/status") as f:
        bounding = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    asked = {name for names in (process.get("capabilities") or {}).values() for name in names}
    missing = sorted(name for name in asked if name in NUMBERS
                     and not bounding >> NUMBERS[name] & 1)
    if missing:
        raise RuncError(f"unable to apply caps: {', '.join(missing)}: the runtime does not "
                        "hold them: operation not permitted")


def send_console(master: int, console_socket: str) -> None:
    import socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(console_socket)
            socket.send_fds(sock, [b"/dev/ptmx"], [master])
    except OSError as exc:
        raise RuncError(f"cannot send the terminal to {console_socket}: {exc.strerror}") \
            from None
    finally:
        os.close(master)


def write_pid_file(path: str, pid: int) -> None:
    """Complete before the caller reads it: fsutil's temp file + rename."""
    path = os.path.abspath(path)
    try:
        write_atomic(path, str(pid).encode(), mode=0o644, sync=False)
    except OSError as exc:
        raise RuncError(f"cannot write pid file {path}: {exc.strerror}") from None


class Options:
    """What create/run were asked (runc's flags)."""

    def __init__(self, bundle=".", pid_file=None, console_socket=None, preserve_fds=0,
                 systemd=False, keep_master=False):
        self.bundle, self.pid_file, self.console_socket = bundle, pid_file, console_socket
        self.preserve_fds, self.systemd, self.keep_master = preserve_fds, systemd, keep_master


def create(root: str, cid: str, opts: Options, log=None):
    """Set the container up; return (Container, pty master or None)."""
    from pycontain.oci.process import spawn

    bundle, spec, rootfs = load_bundle(opts.bundle)
    process = spec["process"]
    if process.get("terminal") and not (opts.console_socket or opts.keep_master):
        raise RuncError("cannot allocate tty if runc will detach without setting console socket")
    if opts.console_socket and not process.get("terminal"):
        raise RuncError("cannot use console socket if runc will not detach or allocate tty")
    ctr = Container(root, cid)
    try:
        os.makedirs(root, 0o711, exist_ok=True)
    except OSError as exc:
        raise RuncError(f"cannot create the runtime root {root}: {exc.strerror}") from None
    try:
        os.mkdir(ctr.dir, 0o711)
    except FileExistsError:
        raise RuncError(f"container with id exists: {cid}") from None
    launch, made, fifo_fd, dirs = None, [], -1, {}
    try:
        host = cgroup.full_host()
        group = None
        ctr.data = {"ociVersion": spec.get("ociVersion", "1.0.2"), "bundle": bundle,
                    "rootfs": rootfs, "created": now_rfc3339(),
                    "annotations": spec.get("annotations") or {},
                    "hooks": {k: v for k, v in (spec.get("hooks") or {}).items()
                              if k in ("poststart", "poststop")},
                    # delete kills what is left in the cgroup only without one (runc)
                    "private_pid": "pid" in _new_namespaces(spec),
                    # what exec runs: as created, never the bundle as it is later
                    "exec": {"process": process,
                             "seccomp": (spec.get("linux") or {}).get("seccomp")}}
        if host is not None:
            path = cgroup.relative_path((spec.get("linux") or {}).get("cgroupsPath", ""),
                                        cid, opts.systemd)
            dirs = cgroup.resolve(host, path)
            group = cgroup.group(host, dirs)
            group.check((spec.get("linux") or {}).get("resources") or {})
            ctr.data["cgroup"] = {"dirs": dirs, "made": []}
        os.mkfifo(ctr.path(FIFO), 0o622)
        os.chmod(ctr.path(FIFO), 0o622)  # not the umask's: a non-root init opens it
        fifo_fd = os.open(ctr.path(FIFO), os.O_PATH | os.O_CLOEXEC)
        ctx = _context(spec, rootfs, fifo_fd, opts.preserve_fds, group, ctr.oci_state())
        if group is not None:
            made = cgroup.create(host, dirs)
            if not opts.systemd and not (spec.get("linux") or {}).get("cgroupsPath"):
                made += [os.path.dirname(d) for d in dirs.values()
                         if os.path.dirname(d) not in made]  # our parent: the last out removes it
            ctr.data["cgroup"]["made"] = made
            group.apply((spec.get("linux") or {}).get("resources") or {})
        launch = spawn(spec, ctx, tty=bool(process.get("terminal")),
                       winsize=console_size(process))
        ctr.data.update(pid=launch.pid, start_time=start_time(launch.pid))
        ctr.save()
        _oom_score_adj(launch.pid, process)
        state = dict(ctr.oci_state(), status="created", pid=launch.pid)
        hooks.run(spec, "prestart", state, log)
        hooks.run(spec, "createRuntime", state, log)
        launch.begin()
        if group is not None and (not group.self_join_files() or _userns(spec)):
            group.add(launch.pid)
        launch.start()
        master = launch.master
        if master is not None and opts.console_socket:
            send_console(master, opts.console_socket)
            master = None
        if opts.pid_file:
            write_pid_file(opts.pid_file, launch.pid)
        return ctr, master
    except BaseException:
        if launch is not None:
            launch.abort()
        if made:
            try:
                cgroup.remove(made, dirs.values())
            except PycontainError:
                pass
        try:
            remove_tree(ctr.dir)
        except PycontainError:
            pass  # what it says is not the error to report
        raise
    finally:
        if fifo_fd >= 0:
            os.close(fifo_fd)


def _oom_score_adj(pid: int, process: dict) -> None:
    if "oomScoreAdj" not in process:
        return
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write(str(process["oomScoreAdj"]))
    except OSError as exc:
        raise RuncError(f"cannot set oom_score_adj to {process['oomScoreAdj']}: "
                        f"{exc.strerror}") from None
