"""A container's changes to its image: `diff`, `commit`, `export`.

Its writable layer is the overlay's upper directory: a file there is added
(A) or changed (C, if a lower layer has that path too); a character device
0:0 is overlay's whiteout, a deletion (D); a directory marked opaque
(trusted.overlay.opaque=y) replaced the lower one wholesale. `commit` turns
that directory into an OCI layer: whiteouts become `.wh.NAME` files, an
opaque directory gets a `.wh..wh..opq` entry, owners are numeric. The mount
points the engine made for its own files (/etc/hosts, hostname,
resolv.conf) are left out of both, as docker does. Walks use a stack, never
recursion, and nothing below the upper directory is ever followed.
"""
import os
import stat

from pycontain.errors import PycontainError
from pycontain.image.whiteout import (OPAQUE_MARKER, ROOT_OPAQUE_XATTR, WHITEOUT_PREFIX,
                                      is_opaque, is_whiteout)
from pycontain.oci.securejoin import secure_join

ENGINE_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf")


def _walk(upper: str):
    """(relative path, lstat, opaque) for every entry of upper, parents first,
    names sorted; the engine's own mount points left out."""
    stack = [""]
    while stack:
        rel = stack.pop()
        directory = os.path.join(upper, rel) if rel else upper
        entries = []
        for name in sorted(os.listdir(directory), reverse=True):
            child = f"{rel}/{name}" if rel else name
            st = os.lstat(os.path.join(upper, child))
            if child in ENGINE_FILES and stat.S_ISREG(st.st_mode) and st.st_size == 0:
                continue
            entries.append((child, st))
        for child, st in reversed(entries):
            opaque = stat.S_ISDIR(st.st_mode) and is_opaque(os.path.join(upper, child),
                                                            ROOT_OPAQUE_XATTR)
            yield child, st, opaque
        stack.extend(child for child, st in entries if stat.S_ISDIR(st.st_mode))


def _lowers(ctr) -> list:
    return [os.path.join(ctr.meta["store"], d) for d in ctr.meta["lower"]]


def changes(ctr) -> list:
    """[(kind, path)] sorted by path: kind A (added), C (changed), D (deleted)."""
    upper, lowers = ctr.path("upper"), _lowers(ctr)
    found = []
    added = set()  # directories new in the upper: all below them is added
    for rel, st, _ in _walk(upper):
        parent = rel.rpartition("/")[0]
        if is_whiteout(st):
            found.append(("D", "/" + rel))
            continue
        new = parent in added or not any(
            os.path.lexists(secure_join(lower, rel)) for lower in lowers)
        if new and stat.S_ISDIR(st.st_mode):
            added.add(rel)
        found.append(("A" if new else "C", "/" + rel))
    return sorted(found, key=lambda c: c[1])


def write_layer(ctr, out) -> None:
    """The upper directory as an OCI layer tar on the binary stream out."""
    import tarfile

    upper = ctr.path("upper")
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.inodes = {}
        for rel, st, opaque in _walk(upper):
            path = os.path.join(upper, rel)
            if is_whiteout(st):
                head, _, name = rel.rpartition("/")
                info = tarfile.TarInfo(f"{head}/{WHITEOUT_PREFIX}{name}" if head else WHITEOUT_PREFIX + name)
                info.mtime = int(st.st_mtime)
                tar.addfile(info)
                continue
            info = tar.gettarinfo(path, rel)
            if info is None:  # a socket
                continue
            info.uname = info.gname = ""
            if info.isreg() and info.type == tarfile.REGTYPE:
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
            if opaque:
                marker = tarfile.TarInfo(f"{rel}/{OPAQUE_MARKER}")
                marker.mtime = int(st.st_mtime)
                tar.addfile(marker)


def commit(ctr, name: str | None, message: str = "", author: str = "",
           pause: bool = True):
    """A new image: ctr's image plus its upper directory as one more layer;
    paused meanwhile (docker's default), so the layer is consistent."""
    from pycontain.engine.lifecycle import pause as pause_container
    from pycontain.image.commit_image import add_layer_image

    frozen = pause and ctr.alive() and not ctr.state.paused
    if frozen:
        try:
            pause_container(ctr, True)
        except PycontainError:  # no cgroup to freeze (rootless): committed as it runs
            frozen = False
    try:
        return add_layer_image(ctr.meta["image_id"], ctr.meta["image"], name,
                               lambda out: write_layer(ctr, out),
                               f"pycontain commit {ctr.name}", message, author)
    finally:
        if frozen:
            pause_container(ctr, False)


def export(ctr, out_fd: int) -> None:
    """The container's whole file system (its root's own, no volumes or
    /proc) as a tar on out_fd, read chrooted in it (engine.rootview)."""
    from pycontain.engine.copy import write_tar
    from pycontain.engine.rootview import in_root

    def work():
        with os.fdopen(out_fd, "wb") as out:
            write_tar("/", out)
    in_root(ctr, work, keep_fds=(out_fd,), whole=False)()
