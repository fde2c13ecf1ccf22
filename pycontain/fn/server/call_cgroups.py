"""Pre-created cgroups for fn serve's calls.

Creating a cgroup per call is slow, and so is moving a process into one from
outside (the kernel's first taking of its threadgroup lock waits for an RCU
grace period). So each zygote keeps a pool: a call takes a free cgroup, its
child joins it by itself, writing "0" to the `tasks` files through
descriptors the engine opened once per cgroup (the kernel checks the
opener's credentials), and the cgroup goes back to the pool once the call is
over, its peak memory read as Lambda's Max Memory Used; one whose processes
are not all gone yet (still exiting, or a handler that faked its end and runs
on until its deadline) waits aside until it is empty. A call joins only the
hierarchies of its limits (memory, pids): each join is a migration of its
own, and in the others it stays in its zygote's. cgroup v1 as root only (this
host); on other hosts calls keep the rlimits alone.

Free cgroups are made ahead, off the calls' path: whenever a call takes one
and fewer are free than the calls running plus AHEAD (at most AHEAD_MAX),
a thread of the pool makes the difference (a burst's first calls
would otherwise each wait for a mkdir in two hierarchies, tens of ms under
load). A call that still finds none makes its own. What a burst or a slow
spell made beyond that (each cgroup holds four descriptors and kernel
memory) is removed by trim(), which fn serve's idle sweep calls for the
functions with no call running.

A pool's cgroups are named fn<pid>.<start>x<tag>x<n>: the server's pid and
start time (in clock ticks after boot, /proc/PID/stat), then the zygote's
pool's tag. A server killed with SIGKILL leaves them behind; the next
`fn serve` (remove_leftovers) and `system gc` remove those whose server is
gone, never a live server's: a pid alone may be another process's by then.
"""
import itertools
import os
import threading

from pycontain.errors import PycontainError
from pycontain.oci.cgroups import hierarchy
from pycontain.oci.cgroups.group import group_for

PIDS_PER_CALL = 1024
AHEAD, AHEAD_MAX = 2, 16  # free cgroups kept: AHEAD + the calls running, up to AHEAD_MAX
TRIM_MOST = 16  # cgroups one trim() removes at most (each is an rmdir per hierarchy)
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
        self._prefix = f"fn{os.getpid()}.{_start_time(os.getpid())}x{os.urandom(3).hex()}x"
        self._numbers = itertools.count()
        self._free, self._draining, self._all = [], [], []
        self._closed = False
        self._in_use, self._filling, self._filler = 0, False, None
        self._lock = threading.Lock()
        # cgroup -> ([tasks descriptors], memory.max_usage_in_bytes one, pids.current one)
        self._fds = {}

    def take(self) -> tuple:
        """(cgroup, descriptors of its `tasks` files: the pool's, not to be closed)
        for one call."""
        with self._lock:
            group = self._free.pop() if self._free else self._drained()
            self._in_use += 1
            fill = not self._filling and self._short()
            self._filling |= fill
        if fill:
            self._filler = threading.Thread(target=self._fill, name="call-cgroups", daemon=True)
            self._filler.start()
        if group is None:
            try:
                group = self._made()
            except BaseException:
                with self._lock:
                    self._in_use -= 1
                raise
        return group, self._fds[group][0]

    def _short(self) -> bool:
        """Whether fewer cgroups are free than are to be kept ahead (under the lock)."""
        return not self._closed and len(self._free) < min(self._in_use + AHEAD, AHEAD_MAX)

    def _fill(self) -> None:
        """Make free cgroups until enough are (see the module doc)."""
        try:
            while True:
                with self._lock:
                    if not self._short():
                        return
                    group = self._drained()  # one emptied since: reused, not made
                    if group is not None:
                        self._free.append(group)
                        continue
                group = self._made()
                with self._lock:
                    if self._closed:  # close() removed it (it was in _all)
                        self._close_fds(group)
                        return
                    self._free.append(group)
        except Exception:  # noqa: BLE001 - closed meanwhile, or no room: calls make their own
            return
        finally:
            with self._lock:
                self._filling = False

    def trim(self, keep: int = AHEAD, most: int = TRIM_MOST) -> int:
        """Remove the emptied cgroups set aside and the free ones beyond keep,
        at most `most`; how many were removed."""
        removed = []
        with self._lock:
            while len(removed) < most and not self._closed:
                group = self._drained()
                if group is not None and len(self._free) < keep:
                    self._free.append(group)
                    continue
                if group is None and len(self._free) > keep:
                    group = self._free.pop(0)
                if group is None:
                    break
                self._all.remove(group)
                self._close_fds(group)
                removed.append(group)
        for group in removed:
            group.remove()
        return len(removed)

    def _made(self):
        """A new cgroup of the pool. Made outside the lock, then entered under it
        unless close() ran meanwhile (a call taken while the server stops): then
        it is removed here, or it would outlive its server."""
        group = group_for(hierarchy.host(), f"{self._prefix}{next(self._numbers)}")
        try:
            group.create()
            group.apply(self._limits)
            fds = _open_files(group)
        except BaseException:
            group.remove()
            raise
        with self._lock:
            if not self._closed:
                self._all.append(group)
                self._fds[group] = fds
                return group
        for fd in fds[0] + list(fds[1:]):
            os.close(fd)
        group.remove()
        raise PycontainError("the function's zygote is gone (the server is stopping)")

    def give_back(self, group) -> int:
        """Return the call's cgroup to the pool, to the free ones once no process
        of the call is left in it (no kill: the call's child is PID 1 of its own
        pid namespace, so whatever it started dies with it, at its deadline at
        the latest); its peak memory (bytes), 0 when the pool was closed
        meanwhile (the zygote is gone)."""
        try:
            peak = int(os.pread(self._fds[group][1], 32, 0))
        except (OSError, KeyError, ValueError):  # closed or removed under us by close()
            peak = 0
        with self._lock:
            self._in_use -= 1
            if group not in self._all:
                self._close_fds(group)  # left open by close() for the call that had it
                return 0
            self._draining.append(group)
            drained = self._drained()
            if drained is not None:
                self._free.append(drained)
        return peak

    def _drained(self):
        """A cgroup put aside that is empty now, its peak reset; None if none is
        (under the lock)."""
        for group in self._draining:
            _, peak, pids = self._fds[group]
            try:
                if int(os.pread(pids, 32, 0)) == 0:
                    os.pwrite(peak, b"0", 0)
                    self._draining.remove(group)
                    return group
            except (OSError, ValueError):
                continue
        return None

    def close(self) -> None:
        """Remove every cgroup of the pool (the descriptors of those a call
        still has are closed when it gives them back), and wait for the
        pool's thread (one it is making, it removes itself)."""
        with self._lock:
            self._closed = True
            groups, idle = self._all, self._free + self._draining
            self._all, self._free, self._draining = [], [], []
            for group in idle:
                self._close_fds(group)
            filler = self._filler
        for group in groups:
            group.kill()
            group.remove()
        if filler is not None and filler is not threading.current_thread():
            filler.join()

    def _close_fds(self, group) -> None:
        tasks, *counters = self._fds.pop(group, ([],))
        for fd in tasks + counters:
            os.close(fd)


def _start_time(pid) -> str:
    """When process pid started (clock ticks after boot), "" if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[19].decode()
    except (OSError, IndexError):
        return ""


def server_gone(name: str) -> bool:
    """Whether name is a pool's call cgroup (see the module doc) whose server
    is gone: no process has its pid, or one started at another time (a name
    without a start time, from an older server: by pid alone)."""
    owner = name[2:].partition("x")[0]
    pid, dot, start = owner.partition(".")
    if not name.startswith("fn") or not pid.isdigit() or (dot and not start.isdigit()):
        return False
    now = _start_time(pid)
    return not now or bool(dot) and now != start


def remove_leftovers() -> list:
    """Remove the call cgroups of servers that are gone (killed with SIGKILL:
    their zygotes and calls died with them), killing any process still in
    one; their names."""
    from pycontain.engine.cgroup_provider import children

    if not available():
        return []
    host, nest, removed = hierarchy.host(), hierarchy.own_v1_cgroups(), []
    for name in sorted(children(host, nest)):
        if server_gone(name):
            group = group_for(host, name, nest)
            group.kill()
            group.remove()
            removed.append(name)
    return removed


def _open_files(group) -> tuple:
    """Descriptors of what each call of group uses, opened once: the `tasks`
    files its child joins through, its peak memory (read, then reset), its
    process count."""
    fds, counters = [], []
    try:
        for controller in JOINED:
            fds.append(os.open(group.control_file(controller, "tasks"), os.O_WRONLY | os.O_CLOEXEC))
        for controller, name, mode in (("memory", "memory.max_usage_in_bytes", os.O_RDWR),
                                       ("pids", "pids.current", os.O_RDONLY)):
            counters.append(os.open(group.control_file(controller, name), mode | os.O_CLOEXEC))
        return (fds, *counters)
    except BaseException:
        for fd in fds + counters:
            os.close(fd)
        raise
