"""Local volumes: directories in the store that outlive containers.

data root  volumes/            0700; flock'ed: shared while a container claims
                               volumes, exclusive while volumes are removed
           volumes/NAME/       0700, volume.json (the record, 0600) and
                               _data/ (the mount source, root 0755 until a
                               copy-up gives it the image directory's owner and mode)

A container's record lists the volumes it uses (meta["volumes"]: name,
destination, anonymous), written under the shared lock before the volumes are
made, so a removal (under the exclusive lock) either sees the container or
finishes before it. A volume appears and disappears by one rename.
The small API here (create, get, remove, listing, prune) is what the CLI and
`kube play` use.
"""
import contextlib
import datetime
import fcntl
import os
import re

from pycontain import paths
from pycontain.errors import PycontainError
from pycontain.fsutil import read_json, remove_tree, write_json

NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
MAX_NAME = 255
MAX_LABELS, MAX_LABEL = 256, 4096  # labels per volume, bytes per key or value
ANONYMOUS_LABEL = "com.docker.volume.anonymous"  # what docker marks them with
IN_USE = 1  # docker's exit code for `volume rm` of a volume in use


def volumes_dir() -> str:
    return os.path.join(paths.data_root(), "volumes")


def mountpoint(name: str) -> str:
    return os.path.join(volumes_dir(), name, "_data")


def valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME and bool(NAME.match(name))


def check_name(name: str) -> str:
    if not valid_name(name):
        raise PycontainError(
            f"{name[:80]!r} includes invalid characters for a local volume name, only "
            "'[a-zA-Z0-9][a-zA-Z0-9_.-]' are allowed (at least 2, at most 255); "
            "to bind a host directory, use an absolute path")
    return name


def check_labels(labels: dict) -> dict:
    if len(labels) > MAX_LABELS:
        raise PycontainError(f"too many labels ({len(labels)}; at most {MAX_LABELS})")
    for key, value in labels.items():
        if not key or len(key) > MAX_LABEL or len(value) > MAX_LABEL or "\0" in key + value:
            raise PycontainError(f"invalid label {key[:80]!r}")
    return labels


def parse_labels(items) -> dict:
    """--label K=V (or K: an empty value) items into a dict."""
    labels = {}
    for item in items:
        key, _, value = item.partition("=")
        labels[key] = value
    return check_labels(labels)


@contextlib.contextmanager
def locked(exclusive: bool):
    """The volumes directory, made if missing, flock'ed (see module doc)."""
    fd = os.open(paths.ensure_dir(volumes_dir()), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(record: dict) -> dict:
    """docker's `volume inspect` object for a stored record."""
    return {"CreatedAt": record["CreatedAt"], "Driver": "local",
            "Labels": record.get("Labels") or {}, "Mountpoint": mountpoint(record["Name"]),
            "Name": record["Name"], "Options": record.get("Options") or {}, "Scope": "local"}


def get(name: str) -> dict:
    """A volume's inspect object; PycontainError (exit 1) if there is none."""
    try:
        record = read_json(os.path.join(volumes_dir(), check_name(name), "volume.json"))
    except (FileNotFoundError, NotADirectoryError):
        raise PycontainError(f"get {name}: no such volume", 1) from None
    return describe(record)


def _make(name: str, labels: dict, anonymous: bool) -> bool:
    """The volume, unless it exists (the caller holds the lock); True if made now."""
    final = os.path.join(volumes_dir(), name)
    if os.path.isdir(final):
        return False
    temp = os.path.join(volumes_dir(), f".new-{os.urandom(8).hex()}")
    os.mkdir(temp, 0o700)
    try:
        os.mkdir(os.path.join(temp, "_data"), 0o755)
        if anonymous:
            labels = dict(labels, **{ANONYMOUS_LABEL: ""})
        write_json(os.path.join(temp, "volume.json"),
                   {"Name": name, "CreatedAt": _now(), "Labels": labels, "Options": {}})
        try:
            os.rename(temp, final)
        except OSError as exc:
            if not os.path.isdir(final):  # another process made it first: fine
                raise PycontainError(f"cannot create volume {name}: {exc.strerror}") from None
            return False
        return True
    finally:
        remove_tree(temp)


def create(name: str | None = None, labels: dict | None = None) -> dict:
    """`volume create`: a new volume (a random 64-hex name if none); an
    existing one of that name is returned as it is, as docker does."""
    name = check_name(name) if name else os.urandom(32).hex()
    with locked(False):
        _make(name, check_labels(dict(labels or {})), False)
    return get(name)


def names() -> list:
    try:
        found = os.listdir(volumes_dir())
    except FileNotFoundError:
        return []
    return sorted(n for n in found if valid_name(n))


def listing() -> list:
    """The inspect objects of every volume."""
    found = []
    for name in names():
        try:
            found.append(get(name))
        except PycontainError:  # removed meanwhile
            continue
    return found


def users() -> dict:
    """{volume name: [ids of the containers whose records list it]}."""
    from pycontain.engine import state

    found = {}
    for cid in state.all_ids():
        try:
            meta = read_json(os.path.join(state.containers_dir(), cid, "container.json"))
        except (OSError, ValueError):
            continue
        for ref in meta.get("volumes") or ():
            found.setdefault(ref["name"], []).append(cid)
    return found


def _delete(name: str) -> None:
    """Take the volume away in one rename, then remove its files."""
    gone = os.path.join(volumes_dir(), f".gone-{os.urandom(8).hex()}")
    try:
        os.rename(os.path.join(volumes_dir(), name), gone)
    except FileNotFoundError:
        return
    remove_tree(gone)


def remove(name: str, force: bool = False) -> None:
    """`volume rm`: refused (exit 1) if a container uses it; force: a missing
    volume is no error (an in-use one still is, as with docker)."""
    with locked(True):
        try:
            get(name)
        except PycontainError:
            if force and valid_name(name):
                return
            raise
        used = users().get(name)
        if used:
            raise PycontainError(f"remove {name}: volume is in use - "
                                 f"[{', '.join(c[:12] for c in used)}]", IN_USE)
        _delete(name)


def size(name: str) -> int:
    from pycontain.fstree import tree_size
    return tree_size(mountpoint(name))


def prune(all_volumes: bool = False) -> tuple:
    """Remove the anonymous volumes no container uses (all_volumes: every
    unused one, as docker's `volume prune -a`): (names removed, bytes freed)."""
    removed, freed = [], 0
    with locked(True):
        used = users()
        for vol in listing():
            if vol["Name"] in used or not (all_volumes or ANONYMOUS_LABEL in vol["Labels"]):
                continue
            freed += size(vol["Name"])
            _delete(vol["Name"])
            removed.append(vol["Name"])
        _collect()
    return removed, freed


def _collect() -> list:
    """What a crash in the middle of making or removing a volume left."""
    found = [n for n in os.listdir(volumes_dir()) if n.startswith((".new-", ".gone-"))]
    for leftover in found:
        remove_tree(os.path.join(volumes_dir(), leftover))
    return found


def collect() -> list:
    """`system gc`: one line per leftover removed."""
    if not os.path.isdir(volumes_dir()):
        return []
    with locked(True):
        return [f"removed unfinished volume directory {n}" for n in _collect()]


def claim(refs: list, make_record):
    """Make the container's record (make_record(), which lists refs), then
    every volume in refs that does not exist yet, under the shared lock.
    Returns (record, names of the volumes made now)."""
    with locked(False):
        record = make_record()
        made = [ref["name"] for ref in refs
                if _make(ref["name"], ref.get("labels") or {}, ref["anonymous"])]
    return record, made


def release(refs: list, also: list = ()) -> None:
    """After a container's record is gone: remove its anonymous volumes, and
    the volumes named in also, unless another container uses them."""
    wanted = {ref["name"] for ref in refs if ref.get("anonymous")} | set(also)
    if not wanted:
        return
    with locked(True):
        used = users()
        for name in sorted(wanted - set(used)):
            _delete(name)


def matches(vol: dict, filters: list, used: dict) -> bool:
    """`volume ls --filter`: name=SUBSTRING, label=KEY[=VALUE], dangling=true|false;
    several names or danglings: any; several labels: all."""
    by_key = {}
    for item in filters:
        key, eq, value = item.partition("=")
        if key not in ("name", "label", "dangling", "driver") or not eq:
            raise PycontainError(f"invalid filter {item!r} (want name=, label=, dangling=)")
        by_key.setdefault(key, []).append(value)
    if "name" in by_key and not any(v in vol["Name"] for v in by_key["name"]):
        return False
    if "driver" in by_key and "local" not in by_key["driver"]:
        return False
    for want in by_key.get("label", ()):
        key, eq, value = want.partition("=")
        if key not in vol["Labels"] or (eq and vol["Labels"][key] != value):
            return False
    for want in by_key.get("dangling", ()):
        if want.lower() not in ("true", "false", "1", "0"):
            raise PycontainError(f"invalid filter 'dangling={want}' (want true or false)")
        if (want.lower() in ("true", "1")) == (vol["Name"] in used):
            return False
    return True


def populate(ctr, refs: list) -> None:
    """Copy the image's content into each volume in refs that wants it and is
    still empty (docker's copy-up), one container at a time per volume.
    Rootless: volumes start empty (the copy needs a mount namespace of ours)."""
    if os.geteuid() != 0:
        return
    from pycontain.engine.copyup import copy_up
    for ref in refs:
        if not ref.get("copy"):
            continue
        fd = os.open(os.path.join(volumes_dir(), ref["name"]),
                     os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not os.listdir(mountpoint(ref["name"])):
                copy_up(ctr.path("rootfs"), ctr.meta["store"], ctr.meta["lower"],
                        ref["destination"], mountpoint(ref["name"]))
        finally:
            os.close(fd)
