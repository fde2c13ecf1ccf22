"""Where the host's cgroup hierarchies are and which controllers they offer.

v2 ("unified"): one file system at /sys/fs/cgroup; the usable controllers are
those the root hands down to its children (its cgroup.subtree_control).
v1 (hybrid hosts such as the test machine): one directory per hierarchy under
/sys/fs/cgroup, named after its controllers ("memory", "cpu,cpuacct").
Only cgroups under pycontain's own parent (PYCONTAIN_CGROUP_PARENT, default
"pycontain") are ever written or removed.
"""
import os

from pycontain.errors import PycontainError

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls",
                  "blkio", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc")
# v1 hierarchies every container joins (when mounted): stats, limits, freeze+kill, devices
V1_JOINED = ("memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio", "devices")


class Host:
    """version 2: mounts == {"": root}; version 1: {hierarchy dir name: path}."""

    def __init__(self, version: int, root: str, mounts: dict, controllers: set):
        self.version = version
        self.root = root
        self.mounts = mounts
        self.controllers = controllers

    def mount_for(self, controller: str):
        """v1: the hierarchy directory holding controller (None if not mounted)."""
        for name, path in self.mounts.items():
            if controller in name.split(","):
                return path
        return None


def parent_name() -> str:
    name = os.environ.get("PYCONTAIN_CGROUP_PARENT", "pycontain").strip("/")
    if not name or any(part in ("", ".", "..") for part in name.split("/")):
        raise PycontainError(f"invalid PYCONTAIN_CGROUP_PARENT {name!r}")
    return name


def _v1_mounts(root: str, wanted: tuple = V1_JOINED) -> dict:
    mounts = {}
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if os.path.islink(path) or not os.path.exists(os.path.join(path, "cgroup.procs")):
            continue
        if any(c in wanted for c in name.split(",")):
            mounts[name] = path
    return mounts


def detect(root: str = ROOT, wanted: tuple = V1_JOINED):
    """The host's cgroup layout, or None when no cgroup file system is mounted;
    on v1 the hierarchies of the wanted controllers (default: those every
    container joins; an OCI bundle's cgroup joins them all, V1_CONTROLLERS)."""
    try:
        if os.path.exists(os.path.join(root, "cgroup.controllers")):
            with open(os.path.join(root, "cgroup.subtree_control")) as f:
                return Host(2, root, {"": root}, set(f.read().split()))
        mounts = _v1_mounts(root, wanted)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not mounts:
        return None
    return Host(1, root, mounts, {c for name in mounts for c in name.split(",")})


def own_v1_cgroups() -> dict:
    """hierarchy name -> our own cgroup in it, relative ('' at the root).

    On v1, container cgroups nest under the engine's own cgroup: a process we
    start never leaves the cgroup a supervisor put us in (this host keeps us
    in memory:/process_api/<session>, which we must not escape or write to).
    """
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if names:
                own[names] = path.strip("/")
    return own


_HOST = []


def host():
    """detect(), once per process."""
    if not _HOST:
        _HOST.append(detect())
    return _HOST[0]
