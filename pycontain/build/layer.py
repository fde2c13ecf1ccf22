"""Writing layers: uncompressed PAX tars (the blob digest is the diff_id),
numeric owners only, no atime/ctime, whole-second mtimes (clamped to the
SOURCE_DATE_EPOCH with --rewrite-timestamp), hardlinks kept, xattrs in the
user.* (not user.overlay.*) and security.capability namespaces.

upper_to_layer() turns a RUN step's overlay upper dir into a layer: a 0/0
character device becomes a `.wh.NAME` file, an opaque directory gets a
`.wh..wh..opq` marker, entries go parents first with names sorted."""
import hashlib
import io
import os
import stat
import tarfile

from pycontain.build.merged import opaque
from pycontain.image.whiteout import OPAQUE_MARKER, WHITEOUT_PREFIX

_KEEP_XATTRS = ("user.", "security.capability")


def _xattrs(path: str) -> dict:
    found = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return found
    for name in sorted(names):
        if name.startswith(_KEEP_XATTRS) and not name.startswith("user.overlay."):
            try:
                found["SCHILY.xattr." + name] = os.getxattr(
                    path, name, follow_symlinks=False).decode("utf-8", "surrogateescape")
            except OSError:
                continue
    return found


class LayerWriter:
    def __init__(self, path: str, epoch: int | None = None):
        self.path = path
        self.epoch = epoch
        self.tar = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)
        self.links = {}
        self.count = 0

    def _info(self, name, kind, mode, uid, gid, mtime) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = stat.S_IMODE(mode)
        info.uid, info.gid = uid, gid
        info.uname = info.gname = ""
        mtime = int(mtime)
        info.mtime = min(mtime, self.epoch) if self.epoch is not None else mtime
        self.count += 1
        return info

    def add_path(self, name: str, host: str, st, uid=None, gid=None, mode=None) -> None:
        """The file at host (lstat st) as name; owner/mode overrides optional."""
        uid = st.st_uid if uid is None else uid
        gid = st.st_gid if gid is None else gid
        perm = st.st_mode if mode is None else mode
        if stat.S_ISDIR(st.st_mode):
            info = self._info(name.rstrip("/") + "/", tarfile.DIRTYPE, perm, uid, gid, st.st_mtime)
            info.pax_headers = _xattrs(host)
            self.tar.addfile(info)
            return
        if stat.S_ISLNK(st.st_mode):
            info = self._info(name, tarfile.SYMTYPE, 0o777, uid, gid, st.st_mtime)
            info.linkname = os.readlink(host)
            self.tar.addfile(info)
            return
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in self.links:
                info = self._info(name, tarfile.LNKTYPE, perm, uid, gid, st.st_mtime)
                info.linkname = self.links[key]
                self.tar.addfile(info)
                return
            self.links[key] = name
        if stat.S_ISREG(st.st_mode):
            info = self._info(name, tarfile.REGTYPE, perm, uid, gid, st.st_mtime)
            info.size = st.st_size
            info.pax_headers = _xattrs(host)
            with open(host, "rb") as f:
                self.tar.addfile(info, f)
        elif stat.S_ISFIFO(st.st_mode):
            self.tar.addfile(self._info(name, tarfile.FIFOTYPE, perm, uid, gid, st.st_mtime))
        # devices and sockets never enter a layer

    def add_bytes(self, name, data: bytes, mode, uid, gid, mtime) -> None:
        info = self._info(name, tarfile.REGTYPE, mode, uid, gid, mtime)
        info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data))

    def add_dir(self, name, mode, uid, gid, mtime) -> None:
        self.tar.addfile(self._info(name.rstrip("/") + "/", tarfile.DIRTYPE, mode, uid, gid,
                                    mtime))

    def add_member(self, name, member: tarfile.TarInfo, fileobj) -> None:
        """A member of another tar (ADD's archive extraction) as name."""
        info = self._info(name, member.type, member.mode, member.uid, member.gid, member.mtime)
        info.linkname, info.size = member.linkname, member.size if member.isreg() else 0
        info.pax_headers = {k: v for k, v in member.pax_headers.items()
                            if k.startswith("SCHILY.xattr.user.")}
        self.tar.addfile(info, fileobj)

    def whiteout(self, name: str, mtime: int = 0) -> None:
        head, _, tail = name.rpartition("/")
        self.add_bytes(f"{head}/{WHITEOUT_PREFIX}{tail}" if head else WHITEOUT_PREFIX + tail,
                       b"", 0, 0, 0, mtime)

    def close(self) -> tuple[str, int]:
        """Finish the tar; (diff_id, size)."""
        self.tar.close()
        hasher = hashlib.sha256()
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 20):
                hasher.update(chunk)
        return "sha256:" + hasher.hexdigest(), os.path.getsize(self.path)


def upper_to_layer(upper: str, writer: LayerWriter, skip=frozenset()) -> None:
    """Every entry of the upper dir (but the relative paths in skip)."""
    todo = [n for n in sorted(os.listdir(upper), reverse=True)]
    while todo:
        rel = todo.pop()
        if rel in skip:
            continue
        host = os.path.join(upper, rel)
        st = os.lstat(host)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            writer.whiteout(rel, st.st_mtime)
            continue
        writer.add_path(rel, host, st)
        if stat.S_ISDIR(st.st_mode):
            if opaque(host):
                writer.add_bytes(f"{rel}/{OPAQUE_MARKER}", b"", 0, 0, 0, st.st_mtime)
            todo += [f"{rel}/{n}" for n in sorted(os.listdir(host), reverse=True)]


def mount_stubs(upper: str, destinations, lower) -> set:
    """Relative paths the runtime made in the upper dir only to mount on
    (an empty file or directory absent from the image), deepest first, with
    parents made only for them."""
    candidates = set()
    for dest in destinations:
        parts = dest.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            candidates.add("/".join(parts[:i]))
    skip = set()
    for rel in sorted(candidates, key=lambda p: -p.count("/")):
        host = os.path.join(upper, rel)
        try:
            st = os.lstat(host)
        except OSError:
            continue
        if lower.lookup(rel) is not None:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            skip.add(rel)
        elif stat.S_ISDIR(st.st_mode) and all(f"{rel}/{n}" in skip for n in os.listdir(host)):
            skip.add(rel)
    return skip
