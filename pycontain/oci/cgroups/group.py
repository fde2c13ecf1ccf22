"""One container's cgroup: <hierarchy>/<parent>/<container id>.

V2Group and V1Group offer the same operations: create, add(pid), apply(res),
pids, kill, freeze(on), remove, oom_killed, sample. They only ever create, write and
remove directories under pycontain's parent, and the parent itself: made by
the first cgroup's create, removed by the last one's remove (so nothing of
pycontain's stays in the host's hierarchies once its last container is gone).
"""
import errno
import os
import time

from pycontain.errors import PycontainError
from pycontain.oci.cgroups import devices, files, limits
from pycontain.oci.cgroups import hierarchy
from pycontain.oci.cgroups.hierarchy import parent_name

SIGKILL = 9
GONE_TIMEOUT = 5.0


def _mkdir(path: str) -> None:
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass


def _rmdir(path: str, deadline: float) -> None:
    """rmdir a cgroup, retrying while its last processes finish exiting."""
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise PycontainError(f"cannot remove cgroup {path}: {exc.strerror}") from None
            time.sleep(0.01)


def remove_if_unused(parent: str) -> None:
    """rmdir our parent if no cgroup is left in it (the kernel refuses otherwise)."""
    try:
        os.rmdir(parent)
    except OSError:
        pass  # another container's cgroup is in it, or it is gone already


def _make_in_parent(make_parent, make_child, attempts: int = 10) -> None:
    """make_parent() then make_child(); again if another engine removed the
    parent, empty, in between (see remove_if_unused): its files then answer
    ENOENT, or ENODEV when opened just as it goes (OSError, or files.write's
    error, which keeps the errno)."""
    for attempt in range(attempts):
        try:
            make_parent()
            make_child()
            return
        except (OSError, PycontainError) as exc:
            vanished = getattr(exc, "errno", None) in (errno.ENOENT, errno.ENODEV)
            if not vanished or attempt == attempts - 1:
                raise


def _wait_empty(directory: str, deadline: float) -> None:
    while files.procs(directory) and time.monotonic() < deadline:
        time.sleep(0.01)


def _unenforceable(flag: str, controller: str, host) -> PycontainError:
    have = ", ".join(sorted(host.controllers)) or "none"
    return PycontainError(f"cannot enforce {flag}: the {controller} cgroup controller is not "
                          f"available on this host (cgroup v{host.version}; usable: {have})")


class Usage:
    """One reading of a cgroup's counters."""
    __slots__ = ("cpu_usec", "memory", "memory_limit", "pids", "read_bytes", "write_bytes")

    def __init__(self, **values):
        for name in self.__slots__:
            setattr(self, name, values.get(name, 0))


class V2Group:
    def __init__(self, host, cid: str):
        self.host = host
        self.parent = os.path.join(host.root, parent_name())
        self.path = os.path.join(self.parent, cid)

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def check(self, res: dict) -> None:
        for flag, controller in limits.requested(res, 2):
            if controller not in self.host.controllers:
                raise _unenforceable(flag, controller or "(v1 only)", self.host)

    def create(self) -> None:
        _make_in_parent(self._make_parent, lambda: os.mkdir(self.path, 0o755))

    def _make_parent(self) -> None:
        """The parent, its controllers enabled for its children: every time, as
        another engine may have made the directory and not enabled them yet."""
        _mkdir(self.parent)
        wanted = " ".join(f"+{c}" for c in sorted(self.host.controllers))
        if wanted:
            files.write(os.path.join(self.parent, "cgroup.subtree_control"), wanted)

    def add(self, pid: int) -> None:
        files.write(self._file("cgroup.procs"), pid)

    def self_join_files(self) -> list:
        """None on v2: the engine writes cgroup.procs (see V1Group.self_join_files)."""
        return []

    def swap_supported(self) -> bool:
        return os.path.exists(self._file("memory.swap.max"))

    def apply(self, res: dict) -> None:
        if res.get("memory", {}).get("swap") is not None and not self.swap_supported():
            raise _unenforceable("--memory-swap", "memory (swap accounting)", self.host)
        for _, name, value in limits.v2_files(res, self.swap_supported()):
            files.write(self._file(name), value)
        if res.get("devices") is not None:
            devices.attach(self.path, res["devices"])

    def pids(self) -> list:
        return files.procs(self.path)

    def kill(self) -> None:
        """Kill every process in the cgroup (cgroup.kill) and wait for them."""
        if not self.pids():
            return
        deadline = time.monotonic() + GONE_TIMEOUT
        if os.path.exists(self._file("cgroup.kill")):
            files.write(self._file("cgroup.kill"), 1)
        else:  # kernels before 5.14: freeze, kill, thaw
            self.freeze(True)
            _kill_all(self.pids())
            self.freeze(False)
        _wait_empty(self.path, deadline)

    def freeze(self, on: bool) -> None:
        """Freeze (pause) or thaw every process in the cgroup."""
        files.write(self._file("cgroup.freeze"), 1 if on else 0)
        deadline = time.monotonic() + GONE_TIMEOUT
        while on and files.keyed(self._file("cgroup.events")).get("frozen") != 1 \
                and time.monotonic() < deadline:
            time.sleep(0.002)

    def remove(self) -> None:
        _rmdir(self.path, time.monotonic() + GONE_TIMEOUT)
        remove_if_unused(self.parent)

    def oom_killed(self) -> bool:
        return files.keyed(self._file("memory.events")).get("oom_kill", 0) > 0

    def sample(self) -> Usage:
        io = [files.keyed_line(line) for line in files.lines(self._file("io.stat"))]
        return Usage(cpu_usec=files.keyed(self._file("cpu.stat")).get("usage_usec", 0),
                     memory=files.read_int(self._file("memory.current")),
                     memory_limit=files.read_int(self._file("memory.max"), -1),
                     pids=files.read_int(self._file("pids.current")),
                     read_bytes=sum(d.get("rbytes", 0) for d in io),
                     write_bytes=sum(d.get("wbytes", 0) for d in io))


def _kill_all(pids: list) -> None:
    for pid in pids:
        try:
            os.kill(pid, SIGKILL)
        except ProcessLookupError:
            pass


class V1Group:
    """The container's directory in each joined v1 hierarchy."""

    def __init__(self, host, cid: str, nest: dict):
        """nest: hierarchy name -> the engine's own cgroup there (own_v1_cgroups)."""
        self.host = host
        parent = parent_name()
        self.parents = {name: os.path.join(mount, nest.get(name, ""), parent)
                        for name, mount in host.mounts.items()}
        self.paths = {name: os.path.join(p, cid) for name, p in self.parents.items()}

    def _dir(self, controller: str):
        for name, path in self.paths.items():
            if controller in name.split(","):
                return path
        return None

    def control_file(self, controller: str, name: str) -> str:
        """The path of one of the cgroup's files in controller's hierarchy."""
        return os.path.join(self._dir(controller), name)

    def exists(self) -> bool:
        return any(os.path.isdir(p) for p in self.paths.values())

    def check(self, res: dict) -> None:
        for flag, controller in limits.requested(res):
            if self._dir(controller) is None:
                raise _unenforceable(flag, controller, self.host)

    @staticmethod
    def _inherit_cpuset(path: str) -> None:
        """A new cpuset starts empty: give it its parent's CPUs and memory nodes."""
        for knob in ("cpuset.cpus", "cpuset.mems"):
            if not files.read(os.path.join(path, knob)):
                files.write(os.path.join(path, knob),
                            files.read(os.path.join(os.path.dirname(path), knob)))

    def create(self) -> None:
        """Our parent (if need be) and the cgroup, in every joined hierarchy.
        Cpusets are filled in for each directory, not left to clone_children:
        a concurrent create may make its cgroup before our parent is filled."""
        for name, path in self.paths.items():
            cpuset = "cpuset" in name.split(",")

            def make(directory: str) -> None:
                _mkdir(directory)
                if cpuset:
                    self._inherit_cpuset(directory)
            _make_in_parent(lambda: make(self.parents[name]), lambda: make(path))

    def add(self, pid: int) -> None:
        for path in self.paths.values():
            files.write(os.path.join(path, "cgroup.procs"), pid)

    def self_join_files(self) -> list:
        """(hierarchy mount, relative path) of the `tasks` files the container's
        process writes "0" to, moving its only thread itself: that skips the
        global threadgroup lock whose first taking costs an RCU grace period
        (~10-15 ms) per cross-process move. Relative, because the process joins
        after pivot_root, through directory fds it opened before."""
        return [(self.host.mounts[name], os.path.relpath(os.path.join(path, "tasks"),
                                                         self.host.mounts[name]))
                for name, path in self.paths.items()]

    def swap_supported(self) -> bool:
        memory = self._dir("memory")
        return bool(memory) and os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes"))

    def apply(self, res: dict) -> None:
        if res.get("memory", {}).get("swap") is not None and not self.swap_supported():
            raise _unenforceable("--memory-swap", "memory (memsw accounting)", self.host)
        current = (files.read_int(self.control_file("memory", "memory.memsw.limit_in_bytes"), -1)
                   if self.swap_supported() else -1)
        for controller, name, value in limits.v1_files(res, self.swap_supported(), current):
            files.write(self.control_file(controller, name), value)
        if res.get("devices") is not None and self._dir("devices"):
            for name, line in devices.v1_lines(res["devices"]):
                files.write(self.control_file("devices", name), line)

    def pids(self) -> list:
        found = set()
        for path in self.paths.values():
            found.update(files.procs(path))
        return sorted(found)

    def kill(self) -> None:
        """Freeze the cgroup (no fork can race the kill), kill all, thaw."""
        if not self.pids():
            return
        deadline = time.monotonic() + GONE_TIMEOUT
        freezer = self._dir("freezer")
        if freezer:
            self.freeze(True)
        _kill_all(self.pids())
        if freezer:
            self.freeze(False)
        for path in self.paths.values():
            _wait_empty(path, deadline)

    def freeze(self, on: bool) -> None:
        """Freeze (pause) or thaw every process in the cgroup (v1 freezer)."""
        if self._dir("freezer") is None:
            raise PycontainError("cannot pause: no freezer cgroup on this host")
        knob = self.control_file("freezer", "freezer.state")
        files.write(knob, "FROZEN" if on else "THAWED")
        deadline = time.monotonic() + GONE_TIMEOUT
        while on and files.read(knob) == "FREEZING" and time.monotonic() < deadline:
            time.sleep(0.002)

    def remove(self) -> None:
        deadline = time.monotonic() + GONE_TIMEOUT
        for name, path in self.paths.items():
            _rmdir(path, deadline)
            remove_if_unused(self.parents[name])

    def oom_killed(self) -> bool:
        memory = self._dir("memory")
        return bool(memory) and files.keyed(
            os.path.join(memory, "memory.oom_control")).get("oom_kill", 0) > 0

    def _read(self, controller: str, name: str, default: int = 0) -> int:
        directory = self._dir(controller)
        return files.read_int(os.path.join(directory, name), default) if directory else default

    def sample(self) -> Usage:
        limit = self._read("memory", "memory.limit_in_bytes", -1)
        blkio = [line.split() for line in files.lines(
            self.control_file("blkio", "blkio.throttle.io_service_bytes"))
                 ] if self._dir("blkio") else []
        return Usage(cpu_usec=self._read("cpuacct", "cpuacct.usage") // 1000,
                     memory=self._read("memory", "memory.usage_in_bytes"),
                     memory_limit=-1 if limit >= 1 << 62 else limit,
                     pids=self._read("pids", "pids.current"),
                     read_bytes=sum(int(f[2]) for f in blkio if len(f) == 3 and f[1] == "Read"),
                     write_bytes=sum(int(f[2]) for f in blkio if len(f) == 3 and f[1] == "Write"))


def group_for(host, cid: str, nest: dict | None = None):
    """The cgroup of container cid; v1 groups nest under `nest` (see V1Group)."""
    if host.version == 2:
        return V2Group(host, cid)
    return V1Group(host, cid, hierarchy.own_v1_cgroups() if nest is None else nest)
