"""A bundle's cgroup at its linux.cgroupsPath, on v2 or on v1/hybrid hosts.

cgroupfs paths: absolute from each hierarchy's root; relative from the
runtime's own cgroup (where a supervisor put us, as runc does). With
--systemd-cgroup, `slice:prefix:name` is `/slice.../prefix-name.scope`
(managed as cgroupfs: no systemd D-Bus here). Only the directories `create`
made are removed by `delete`; their paths are kept in the container's state.
"""
import os
import time

from pycontain.errors import PycontainError
from pycontain.oci.cgroups import files, hierarchy
from pycontain.oci.cgroups.group import V1Group, V2Group
from pycontain.runc.markers import removal_order
from pycontain.runc.state import RuncError

DEFAULT_PARENT = "pycontain-runc"


def _slice_path(slice_name: str) -> str:
    """systemd's nesting of a slice: a-b.slice is a.slice/a-b.slice."""
    if not slice_name or slice_name == "-.slice":
        return ""
    if not slice_name.endswith(".slice"):
        raise RuncError(f"invalid systemd slice {slice_name!r}")
    parts = slice_name[:-len(".slice")].split("-")
    return "/".join("-".join(parts[:i + 1]) + ".slice" for i in range(len(parts)))


def relative_path(cgroups_path: str, cid: str, systemd: bool) -> str:
    """The cgroup's path as given: absolute ('/a/b') or relative ('a/b')."""
    if systemd:
        if not cgroups_path:
            return f"/system.slice/pycontain-runc-{cid}.scope"
        parts = cgroups_path.split(":")
        if len(parts) != 3:
            raise RuncError(f"expected cgroupsPath of the form slice:prefix:name, "
                            f"got {cgroups_path!r}")
        slice_name, prefix, name = parts
        unit = name if name.endswith(".slice") else f"{prefix}-{name}.scope"
        return "/" + "/".join(p for p in (_slice_path(slice_name or "system.slice"), unit) if p)
    path = cgroups_path or f"{DEFAULT_PARENT}/{cid}"
    if any(part in (".", "..") for part in path.split("/")):
        raise RuncError(f"invalid cgroupsPath {cgroups_path!r}")
    return path


_FULL_HOST = []


def full_host():
    """The host's cgroups with every v1 hierarchy (an engine container joins a
    few; a bundle's limits may name any controller); detected once per call."""
    if not _FULL_HOST:
        _FULL_HOST.append(hierarchy.detect(wanted=hierarchy.V1_CONTROLLERS))
    return _FULL_HOST[0]


def resolve(host, path: str) -> dict:
    """hierarchy name -> absolute directory of the cgroup."""
    own = hierarchy.own_v1_cgroups() if host.version == 1 else _own_v2()
    out = {}
    for name, mount in host.mounts.items():
        base = "" if path.startswith("/") else own.get(name, "")
        out[name] = os.path.normpath(os.path.join(mount, base, path.strip("/")))
    return out


def _own_v2() -> dict:
    with open("/proc/self/cgroup") as f:
        for line in f:
            hid, _, path = line.rstrip("\n").split(":", 2)
            if hid == "0":
                return {"": path.strip("/")}
    return {}


def group(host, dirs: dict):
    """A V1Group/V2Group bound to exact directories (see cgroups.group)."""
    if host.version == 2:
        g = V2Group.__new__(V2Group)
        g.host, g.path = host, dirs[""]
        g.parent = os.path.dirname(g.path)
    else:
        g = V1Group.__new__(V1Group)
        g.host, g.paths = host, dict(dirs)
        g.parents = {name: os.path.dirname(p) for name, p in dirs.items()}
    return g


def create(host, dirs: dict) -> list:
    """Make the cgroup's directories, each missing level in every hierarchy;
    return those made (to remove at delete), deepest last."""
    made = []
    path = ""
    try:
        for name, path in dirs.items():
            _make_levels(host, name, path, made)
    except OSError as exc:
        remove(made, made)
        raise PycontainError(f"cannot create cgroup {path}: {exc.strerror}") from None
    return made


def _make_levels(host, name: str, path: str, made: list, attempts: int = 10) -> None:
    """Make path's missing levels in hierarchy name, adding those made to made.
    Other runtimes work beside us: a level another makes meanwhile is theirs
    (left out of made), and when a level vanishes under us (removed, empty,
    by another's delete: mkdir answers ENOENT) the missing levels are made
    again."""
    mount = host.mounts[name]
    for attempt in range(attempts):
        todo, probe = [], path
        while probe != mount and not os.path.isdir(probe):
            todo.append(probe)
            probe = os.path.dirname(probe)
        try:
            for directory in reversed(todo):
                parent = os.path.dirname(directory)
                if host.version == 2 and host.controllers and parent != mount:
                    _enable_controllers(host, parent)
                try:
                    os.mkdir(directory, 0o755)
                except FileExistsError:
                    continue
                made.append(directory)
                if "cpuset" in name.split(","):
                    V1Group._inherit_cpuset(directory)
            return
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise


def _enable_controllers(host, directory: str) -> None:
    wanted = " ".join(f"+{c}" for c in sorted(host.controllers))
    try:
        files.write(os.path.join(directory, "cgroup.subtree_control"), wanted)
    except PycontainError:
        pass  # a controller in use below: the limits that need it say so when applied


def remove(made: list, leaves=(), timeout: float = 5.0) -> None:
    """rmdir what create made, deepest first: the cgroup itself (leaves),
    waiting for exiting processes; a parent only if no other cgroup is in it."""
    deadline = time.monotonic() + timeout
    for directory, leaf in removal_order(made, leaves):  # csrc/runc_fast.c does the same
        while True:
            try:
                os.rmdir(directory)
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if not leaf:
                    break  # another container's cgroup is in it: theirs to remove
                if time.monotonic() > deadline:
                    raise RuncError(f"cannot remove cgroup {directory}: {exc.strerror}") \
                        from None
                time.sleep(0.01)


def _freezer(host, dirs: dict):
    if host.version == 2:
        return os.path.join(dirs[""], "cgroup.freeze")
    for name, path in dirs.items():
        if "freezer" in name.split(","):
            return os.path.join(path, "freezer.state")
    return None


def freeze(host, dirs: dict, on: bool) -> None:
    knob = _freezer(host, dirs)
    if knob is None:
        raise RuncError("cannot pause: no freezer cgroup on this host")
    if host.version == 2:
        files.write(knob, 1 if on else 0)
        return
    files.write(knob, "FROZEN" if on else "THAWED")
    deadline = time.monotonic() + 5
    while on and files.read(knob) == "FREEZING" and time.monotonic() < deadline:
        time.sleep(0.002)


def freezer_knob(saved):
    """(cgroup version, the file that says whether the cgroup in a container's
    state is frozen), or None if there is none."""
    host = full_host() if saved else None
    knob = _freezer(host, saved["dirs"]) if host else None
    if knob is None:
        return None
    if host.version == 2:
        return 2, os.path.join(saved["dirs"][""], "cgroup.events")
    return 1, knob


def frozen(saved) -> bool:
    """Whether the cgroup in a container's state is frozen (csrc/runc_fast.c reads
    it so too, from runc/markers.py's state.view)."""
    knob = freezer_knob(saved)
    try:
        if knob is None:
            return False
        if knob[0] == 2:
            return files.keyed(knob[1]).get("frozen") == 1
        return files.read(knob[1]) == "FROZEN"
    except FileNotFoundError:
        return False
