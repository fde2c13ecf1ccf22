"""Pre-created cgroups for fn serve's calls.

Creating a cgroup per call is slow, and so is moving a process into one from
outside (the kernel's first taking of its threadgroup lock waits for an RCU
grace period). So each zygote keeps a pool: a call takes a free cgroup, its
child joins it by itself, writing "0" to the `tasks` files through
descriptors the engine opened once per cgroup (the kernel checks the
opener's credentials), and the cgroup goes back to the pool once the call is
over, its peak memory read as Lambda's Max Memory Used. A call joins only the
hierarchies of its limits (memory, pids): each join is a migration of its
own, and in the others it stays in its zygote's. cgroup v1 as root only (this
host); on other hosts calls keep the rlimits alone.
"""
import itertools
import os
import threading

from pycontain.runtime.cgroups import hierarchy
from pycontain.runtime.cgroups.group import group_for

PIDS_PER_CALL = 1024
JOINED = {"memory", "pids"}  # the hierarchies a call joins


def available() -> bool:
    host = hierarchy.host()
    return host is not None and host.version == 1 and os.geteuid() == 0


def limits_applied() -> str:
    """What enforces a call's limits, for REPORT lines and the status."""
    return "cgroup+rlimit" if available() else "rlimit"


class CallCgroups:
    """One zygote's pool of call cgroups with its function's memory limit."""

    def __init__(self, memory_mb: int):
        self._limits = {"memory": {"limit": memory_mb << 20}, "pids": {"limit": PIDS_PER_CALL}}
        self._prefix = f"fn{os.getpid()}x{os.urandom(3).hex()}x"
        self._numbers = itertools.count()
        self._free, self._all, self._lock = [], [], threading.Lock()
        self._fds = {}  # cgroup -> ([tasks descriptors], memory.max_usage_in_bytes one)

    def take(self) -> tuple:
        """(cgroup, descriptors of its `tasks` files: the pool's, not to be closed)
        for one call."""
        with self._lock:
            group = self._free.pop() if self._free else None
        if group is None:
            group = group_for(hierarchy.host(), f"{self._prefix}{next(self._numbers)}")
            with self._lock:
                self._all.append(group)
            group.create()
            group.apply(self._limits)
            self._fds[group] = _open_files(group)
        return group, self._fds[group][0]

    def give_back(self, group) -> int:
        """Empty the call's cgroup and return it to the pool; its peak memory
        (bytes), 0 when the pool was closed meanwhile (the zygote is gone)."""
        try:  # no kill: the call's child is PID 1 of its own pid namespace, so
            # whatever it started dies with it; at most its last exit is still under way
            fd = self._fds[group][1]
            peak = int(os.pread(fd, 32, 0))
            os.pwrite(fd, b"0", 0)
        except (OSError, KeyError, ValueError):  # closed or removed under us by close()
            peak = 0
        with self._lock:
            if group in self._all:
                self._free.append(group)
                return peak
            self._close_fds(group)  # left open by close() for the call that had it
        return 0

    def close(self) -> None:
        """Remove every cgroup of the pool (the descriptors of those a call
        still has are closed when it gives them back)."""
        with self._lock:
            groups, free, self._all, self._free = self._all, self._free, [], []
            for group in free:
                self._close_fds(group)
        for group in groups:
            group.kill()
            group.remove()

    def _close_fds(self, group) -> None:
        tasks, peak = self._fds.pop(group, ([], None))
        for fd in tasks:
            os.close(fd)
        if peak is not None:
            os.close(peak)


def _file(group, controller: str, name: str) -> str:
    return next(os.path.join(path, name) for mounted, path in group.paths.items()
                if controller in mounted.split(","))


def _open_files(group) -> tuple:
    """Descriptors of what each call of group uses, opened once: the `tasks`
    files its child joins through, its peak memory (read, then reset)."""
    fds = []
    try:
        for controller in JOINED:
            fds.append(os.open(_file(group, controller, "tasks"), os.O_WRONLY | os.O_CLOEXEC))
        return fds, os.open(_file(group, "memory", "memory.max_usage_in_bytes"),
                            os.O_RDWR | os.O_CLOEXEC)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
