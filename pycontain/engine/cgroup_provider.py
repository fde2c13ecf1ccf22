"""The engine's cgroup hooks (see pycontain.engine.resources).

prepare  before the container's first process exists: a cgroup of its own
         under pycontain's parent, the spec's limits applied (failing clearly if
         one cannot be enforced); on v1 the process joins it by itself.
attach   on v2, the engine moves the process in. Either way the process
         unshares its cgroup namespace only after joining, so it sees its own
         cgroup as the root.
join     an `exec`ed process joins the container's cgroup.
release  after the exit (and from rm / system gc): note an OOM kill in the
         container's state, kill whatever is left in the cgroup, remove it.
"""
import os

from pycontain.errors import PycontainError
from pycontain.oci.cgroups import hierarchy, limits
from pycontain.oci.cgroups.group import group_for, remove_if_unused
from pycontain.oci.userns import cgroup_delegated


def _group(ctr):
    """The container's cgroup. Where it nests on v1 is recorded in its state
    when it is created, so a later engine in another cgroup finds it too."""
    host = hierarchy.host()
    if host is None:
        return None
    if host.version == 1 and "cgroup_nest" not in ctr.state.extra:
        ctr.state.extra["cgroup_nest"] = hierarchy.own_v1_cgroups()
    return group_for(host, ctr.id, ctr.state.extra.get("cgroup_nest"))


def _wanted(ctr, spec: dict):
    """The container's cgroup if it gets one, after checking its limits can be
    enforced here; None without cgroups (rootless without delegation)."""
    res = spec.get("linux", {}).get("resources") or {}
    if os.geteuid() != 0 and not cgroup_delegated():
        return None  # rootless without a cgroup of its own: limits were refused in make_rootless
    group = _group(ctr)
    if group is None:  # the device rules then rest on nodev mounts alone
        if limits.requested(res):
            raise PycontainError("cannot enforce resource limits: no cgroup file system is "
                                 "mounted at /sys/fs/cgroup")
        return None
    group.check(res)
    return group


def prepare(ctr, spec: dict, ctx) -> None:
    """Before the container's process exists: check the limits; on v1 tell the
    process (ctx: its oci.context.InitContext) which cgroup files to join
    itself (see V1Group.self_join_files)."""
    group = _wanted(ctr, spec)
    if group is not None:
        ctx.cgroup_join = group.self_join_files()


def attach(ctr, spec: dict, pid: int) -> None:
    """While the process builds its root file system: create its cgroup with
    the spec's limits (it joins once told to start); on v2 move it in."""
    group = _wanted(ctr, spec)
    if group is None:
        return
    group.create()
    group.apply(spec.get("linux", {}).get("resources") or {})
    ctr.save_state()  # records where the cgroup nests (see _group)
    if not group.self_join_files():
        group.add(pid)


def join(ctr, pid: int) -> None:
    group = _group(ctr)
    if group is not None and group.exists():
        group.add(pid)


def release(ctr) -> None:
    group = _group(ctr)
    if group is None or not group.exists():
        return
    if group.oom_killed():
        ctr.state.oom_killed = True
    group.kill()
    group.remove()


def update(ctr, res: dict) -> None:
    """Change a running container's limits."""
    group = _group(ctr)
    if group is None or not group.exists():
        raise PycontainError(f"container {ctr.name} has no cgroup to update")
    group.check(res)
    group.apply(res)


def freeze(ctr, on: bool) -> None:
    """Pause (freeze) or unpause (thaw) a running container's processes."""
    group = _group(ctr)
    if group is None or not group.exists():
        raise PycontainError(f"cannot pause container {ctr.name}: it has no cgroup")
    group.freeze(on)


def pids(ctr) -> list:
    """The pids in the container's cgroup ([] without one)."""
    group = _group(ctr)
    return group.pids() if group is not None and group.exists() else []


def sample(ctr):
    """A usage reading of the container's cgroup, or None if it has none."""
    group = _group(ctr)
    return group.sample() if group is not None and group.exists() else None


def collect(known_ids) -> list:
    """Remove the empty cgroups under our parent that no container owns
    (left by an engine killed between its cgroup's creation and its record's)."""
    host = hierarchy.host()
    if host is None:
        return []
    removed = []
    nest = hierarchy.own_v1_cgroups() if host.version == 1 else {}
    for cid in sorted(children(host, nest)):
        if len(cid) == 64 and cid not in known_ids:  # a container's (fn serve's: not ours)
            group = group_for(host, cid, nest)
            if not group.pids():
                group.remove()
                removed.append(cid)
    for parent in _parents_anywhere(host):
        remove_if_unused(parent)  # an unused parent, ours or one an engine elsewhere left
    return [f"removed cgroup {cid[:12]}" for cid in removed]


def _parents_anywhere(host) -> list:
    """Our parent directories: at the root of each hierarchy and (v1) nested up
    to two levels down, where engines in other cgroups put theirs (see
    hierarchy.own_v1_cgroups)."""
    import glob

    name = hierarchy.parent_name()
    depths = ("", "*", "*/*") if host.version == 1 else ("",)
    return [path for mount in host.mounts.values() for depth in depths
            for path in glob.glob(os.path.join(glob.escape(mount), depth, glob.escape(name)))]


def children(host, nest: dict) -> set:
    """The names of the cgroups under our parent, in any hierarchy (v1: the
    parent nested under nest, hierarchy.own_v1_cgroups)."""
    return {cid for name, mount in host.mounts.items()
            for cid in _listdir(os.path.join(mount, nest.get(name, ""), hierarchy.parent_name()))}


def _listdir(path: str) -> list:
    try:
        return [e.name for e in os.scandir(path) if e.is_dir()]
    except FileNotFoundError:
        return []
