"""Rootless containers: a user namespace in which the caller is root.

make_rootless(spec)  turns a container spec into a rootless one: a user
    namespace mapping the caller's uid/gid to 0 (plus the caller's /etc/subuid
    and /etc/subgid ranges from 1 up, when newuidmap/newgidmap exist; or, with
    keep_id, only the caller's ids, each to itself), /sys
    bound from the host instead of a new sysfs (which needs the host's user
    namespace), no cgroup file systems, devpts without gid=5 when that group
    is not mapped. Resource limits need a delegated cgroup, else a clear error.
IdMapper  the engine-side half of creating that namespace: the helper process
    unshares it, the engine writes its uid_map and gid_map (itself for a
    single id, through the setuid newuidmap/newgidmap for ranges), the helper
    goes on to unshare the other namespaces, now owned by the new one.
"""
import os

from pycontain import native as n
from pycontain.errors import PycontainError

NEWUIDMAP, NEWGIDMAP = "/usr/bin/newuidmap", "/usr/bin/newgidmap"


def subid_range(path: str, uid: int) -> tuple | None:
    """(start, count) of the first range for our user name or uid in /etc/sub[ug]id."""
    import pwd
    try:
        names = {str(uid), pwd.getpwuid(uid).pw_name}
    except KeyError:
        names = {str(uid)}
    try:
        with open(path) as f:
            for line in f:
                fields = line.strip().split(":")
                if len(fields) == 3 and fields[0] in names and fields[1].isdigit() \
                        and fields[2].isdigit() and int(fields[2]) > 0:
                    return int(fields[1]), int(fields[2])
    except OSError:
        pass
    return None


def id_mappings(own: int, path: str, helper: str) -> list:
    """OCI id mappings: own id -> 0, plus a subordinate range -> 1.. if usable."""
    maps = [{"containerID": 0, "hostID": own, "size": 1}]
    extra = subid_range(path, os.geteuid()) if os.access(helper, os.X_OK) else None
    if extra:
        maps.append({"containerID": 1, "hostID": extra[0], "size": extra[1]})
    return maps


def is_mapped(maps: list, cid: int) -> bool:
    return any(m["containerID"] <= cid < m["containerID"] + m["size"] for m in maps)


def cgroup_delegated() -> bool:
    """True if we may create cgroups: a cgroup v2 host whose cgroup of ours is
    writable by us (systemd's Delegate=yes)."""
    try:
        with open("/proc/self/cgroup") as f:
            line = next((ln for ln in f if ln.startswith("0::")), "")
    except OSError:
        return False
    mine = os.path.join("/sys/fs/cgroup", line[3:].strip().lstrip("/"))
    return bool(line) and os.path.exists("/sys/fs/cgroup/cgroup.controllers") and \
        os.access(mine, os.W_OK) and os.stat(mine).st_uid == os.geteuid()


def _rootless_mounts(mounts: list, gid_maps: list) -> list:
    out = []
    for m in mounts:
        if m["type"] in ("cgroup", "cgroup2") or m["destination"] == "/sys/fs/cgroup":
            continue
        if m["type"] == "sysfs":
            m = {"destination": m["destination"], "type": "bind", "source": "/sys",
                 "options": ["rbind", "nosuid", "noexec", "nodev"] +
                            [o for o in m["options"] if o in ("ro", "rw")]}
        elif m["type"] == "devpts" and not is_mapped(gid_maps, 5):
            m = dict(m, options=[o for o in m["options"] if not o.startswith("gid=")])
        out.append(m)
    return out


def make_rootless(spec: dict, keep_id: bool = False) -> dict:
    """Adapt a container spec for an unprivileged caller (see the module doc).
    keep_id (podman's --userns=keep-id, without subordinate ids): map only our
    uid and gid, each to itself, for a process that must not be its namespace's
    root: one that makes user namespaces of its own and maps itself in them,
    which for a parent's uid 0 takes CAP_SETFCAP (Linux 5.12 on) that it has not."""
    linux = spec["linux"]
    if keep_id:
        uid_maps = [{"containerID": os.geteuid(), "hostID": os.geteuid(), "size": 1}]
        gid_maps = [{"containerID": os.getegid(), "hostID": os.getegid(), "size": 1}]
    else:
        uid_maps = id_mappings(os.geteuid(), "/etc/subuid", NEWUIDMAP)
        gid_maps = id_mappings(os.getegid(), "/etc/subgid", NEWGIDMAP)
    user = spec["process"]["user"]
    for kind, maps, wanted in (("user", uid_maps, [user.get("uid", 0)]),
                               ("group", gid_maps, [user.get("gid", 0)] +
                                list(user.get("additionalGids", [])))):
        missing = [i for i in wanted if not is_mapped(maps, i)]
        if missing:
            raise PycontainError(
                f"{kind} id {missing[0]} does not exist in a rootless container here: only "
                f"root{' and the ids of /etc/sub' + kind[0] + 'id' if len(maps) > 1 else ''} "
                f"are mapped (add a range for your user to /etc/sub{kind[0]}id)")
    # no device cgroup (v1's is root's, v2's program needs CAP_BPF): the kernel never
    # lets a user namespace make a device node, so only the caller's own are in reach
    linux.get("resources", {}).pop("devices", None)
    if linux.get("resources") and not cgroup_delegated():
        raise PycontainError("resource limits need cgroups, and this user has no delegated "
                             "cgroup (cgroup v2 with systemd Delegate=yes): run as root or "
                             "drop the limit flags")
    linux["namespaces"] = [{"type": "user"}] + linux["namespaces"]
    linux["uidMappings"], linux["gidMappings"] = uid_maps, gid_maps
    linux["readonlyPaths"] = [p for p in linux.get("readonlyPaths", ()) if p != "/sys/fs/cgroup"]
    spec["mounts"] = _rootless_mounts(spec["mounts"], gid_maps)
    return spec


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _newidmap(tool: str, pid: int, maps: list) -> None:
    import subprocess
    args = [tool, str(pid)] + [str(m[k]) for m in maps for k in ("containerID", "hostID", "size")]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise PycontainError(f"{os.path.basename(tool)} failed: "
                             f"{done.stderr.strip() or done.returncode}")


def write_id_maps(pid: int, uid_maps: list, gid_maps: list) -> None:
    """Set up the uid and gid maps of pid's new user namespace."""
    for tool, kind, maps in ((NEWUIDMAP, "uid", uid_maps), (NEWGIDMAP, "gid", gid_maps)):
        if len(maps) > 1:
            _newidmap(tool, pid, maps)
            continue
        if kind == "gid":
            _write(f"/proc/{pid}/setgroups", "deny")
        _write(f"/proc/{pid}/{kind}_map",
               "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps))


class IdMapper:
    """Handshake between the helper that unshares a user namespace and the
    engine that maps ids in it (see the module doc)."""

    def __init__(self, spec: dict):
        self.uid_maps = spec["linux"].get("uidMappings") or []
        self.gid_maps = spec["linux"].get("gidMappings") or []
        self._ready = os.pipe()
        self._mapped = os.pipe()
        self.error = ""

    def enter(self) -> None:
        """In the helper: unshare the user namespace, wait until it is mapped."""
        os.close(self._ready[0])
        os.close(self._mapped[1])
        n.unshare(n.CLONE_NEWUSER)
        os.write(self._ready[1], b"u")
        os.close(self._ready[1])
        ok = os.read(self._mapped[0], 1) == b"k"
        os.close(self._mapped[0])
        if not ok:
            raise OSError("the engine could not map ids in the user namespace")
        # the creator's own ids may be outside the maps (root running a bundle whose
        # root is mapped to another host id): become the namespace's root, as mapped
        if os.getuid() != 0 and any(m["containerID"] == 0 for m in self.uid_maps):
            if any(m["containerID"] == 0 for m in self.gid_maps):
                os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)

    def map(self, pid: int) -> None:
        """In the engine: write pid's maps once it has unshared (errors in .error)."""
        os.close(self._ready[1])
        os.close(self._mapped[0])
        try:
            if os.read(self._ready[0], 1) == b"u":
                write_id_maps(pid, self.uid_maps, self.gid_maps)
                os.write(self._mapped[1], b"k")
        except (OSError, PycontainError) as exc:
            self.error = f"cannot set up the rootless user namespace: {exc}"
        finally:
            os.close(self._ready[0])
            os.close(self._mapped[1])


def run_mapped(action, failure: str) -> None:
    """Run action() in a forked child inside a user namespace with our
    mapping (our id and the subordinate ranges), where we are root over every
    one of those ids: how rootless removes files of the subordinate ids (or
    overlay's mode-0 work dir). Raises PermissionError(failure + why) if the
    child fails."""
    spec = {"linux": {"uidMappings": id_mappings(os.geteuid(), "/etc/subuid", NEWUIDMAP),
                      "gidMappings": id_mappings(os.getegid(), "/etc/subgid", NEWGIDMAP)}}
    mapper = IdMapper(spec)
    pid = os.fork()
    if pid == 0:
        try:
            mapper.enter()
            action()
            os._exit(0)
        except BaseException:  # noqa: BLE001 - forked child
            os._exit(1)
    mapper.map(pid)
    _, status = os.waitpid(pid, 0)
    if status != 0 or mapper.error:
        raise PermissionError(f"{failure}: {mapper.error or 'permission denied'}")
