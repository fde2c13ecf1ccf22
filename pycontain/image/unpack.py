"""Unpack one image layer (a tar stream) into a new directory, safely.

A layer is hostile input. unpack_layer() never writes outside the layer
directory:

* every member name is normalised; absolute names, '..' components, empty
  names and non-directories naming the layer root are refused (a directory
  named '/', '.' or './' is the layer root: its metadata applies to it);
* parent directories are opened one component at a time with
  O_DIRECTORY|O_NOFOLLOW relative to a directory fd of the layer root, so a
  path that passes through a symlink (made earlier in the same layer) is
  refused instead of followed, and every entry is created relative to the
  fd of its final parent (mkdir/open/symlink/link/mknod with dir_fd);
* hardlink targets are resolved the same way, must already exist in this
  layer, and are linked without following symlinks;
* block and character devices are refused; fifos are allowed (they cannot
  reach anything outside the container); other member types are refused;
* the tar is read through tarsafe (bounded headers, member count and bytes;
  no sparse members; mtimes, owners and PAX keys the system can take), and
  the uncompressed stream is bounded by tarsafe.MAX_LAYER_BYTES.

Metadata (owner, mode, mtime, a filtered set of xattrs) is applied by
layer_tree.LayerTree, which also does the fd-relative walking; symlinks
get owner and mtime, no xattrs.

Later entries replace earlier ones of the same name, as tar does: a
non-directory is unlinked before being recreated, a directory replacing a
non-directory removes it, a directory over a directory only updates
metadata.

OCI whiteouts become overlayfs ones: '.wh.NAME' makes a 0/0 character device
NAME, '.wh..wh..opq' sets the overlay 'opaque' xattr (trusted.overlay.opaque
as root, user.overlay.opaque otherwise, for mounts with 'userxattr') on its
directory. The '.wh.*' files themselves are never written. A whiteout only
hides lower layers: if NAME already exists in this layer a file is kept as
is, and a directory is kept and made opaque (a directory arriving after its
own whiteout is made opaque too). Other '.wh..wh.*' names (aufs metadata)
are ignored.
"""
import os
import secrets
import stat
import tarfile

from pycontain.errors import PycontainError
from pycontain.fsutil import remove_tree
from pycontain.image import tarsafe
from pycontain.image.layer_tree import DIR_FLAGS, LayerTree, mtime_ns
from pycontain.image.whiteout import (AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX,
                                      set_opaque_at)

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


def unpack_layer(fileobj, dest: str, *, label: str | None = None,
                 diff_id: str | None = None) -> tuple[str, int]:
    """Extract the uncompressed tar stream fileobj into the new directory dest.

    Extraction happens in dest + '.tmp-<random>', renamed to dest only when
    complete (and, if diff_id is given, after the sha256 of the whole
    uncompressed stream matched it). On any error the temporary directory is
    removed and PycontainError('layer <label>: ...') is raised.
    Returns (diff_id as computed, uncompressed size in bytes).
    """
    import hashlib

    label = label or os.path.basename(dest.rstrip("/"))
    if os.path.lexists(dest):
        raise PycontainError(f"layer {label}: destination {dest} already exists")
    tmp = f"{dest}.tmp-{secrets.token_hex(6)}"
    os.mkdir(tmp, 0o700)
    try:
        reader = _HashingReader(fileobj, hashlib.sha256(), label)
        root_fd = os.open(tmp, DIR_FLAGS)
        try:
            os.chmod(root_fd, 0o755)
            _Unpacker(root_fd, label).run(reader)
            reader.drain()
        finally:
            os.close(root_fd)
        computed = "sha256:" + reader.hash.hexdigest()
        if diff_id is not None and computed != diff_id:
            raise PycontainError(
                f"layer {label}: content does not match its diff_id "
                f"(expected {diff_id}, got {computed})")
        os.rename(tmp, dest)
    except BaseException:
        remove_tree(tmp)
        raise
    return computed, reader.size


def layer_digest(fileobj, label: str) -> str:
    """The diff_id of the uncompressed tar stream fileobj, read as unpack_layer
    reads it (bounded, one clear error), without unpacking it."""
    import hashlib
    reader = _HashingReader(fileobj, hashlib.sha256(), label)
    reader.drain()
    return "sha256:" + reader.hash.hexdigest()


class _HashingReader:
    """Read-through wrapper hashing and counting the uncompressed stream;
    turns decompression failures into one clear PycontainError and refuses
    a stream longer than tarsafe.MAX_LAYER_BYTES."""

    def __init__(self, fileobj, hasher, label):
        self._f = fileobj
        self.hash = hasher
        self.size = 0
        self.eof = False
        self._label = label

    def read(self, n=-1):
        try:
            data = self._f.read(n)
        except PycontainError:
            raise
        except Exception as e:  # gzip/zlib/zstd/EOF errors from the stream
            raise PycontainError(
                f"layer {self._label}: corrupt or truncated layer data ({e})") from None
        if not data and n != 0:
            self.eof = True
        self.hash.update(data)
        self.size += len(data)
        if self.size > tarsafe.MAX_LAYER_BYTES:
            raise PycontainError(f"layer {self._label}: more than {tarsafe.MAX_LAYER_BYTES} "
                                 "bytes uncompressed")
        return data

    def drain(self):
        while self.read(_CHUNK):
            pass



class _Unpacker(LayerTree):
    """Creates a layer's members, one function per entry type, below a LayerTree."""

    # -- driver ---------------------------------------------------------------
    def run(self, reader) -> None:
        try:
            try:
                tar = tarsafe.open_stream(reader)
                while (member := self._next(tar, reader)) is not None:
                    self._member(member, tar)
            except tarsafe.Refused as e:
                raise self._refuse(e.name, e.why) from None
            except tarfile.TarError as e:
                raise PycontainError(f"layer {self.label}: invalid tar stream ({e})") from None
            self._finish_directories()
        finally:
            self._drop_cache()

    @staticmethod
    def _next(tar, reader):
        """The next member, or None at the end. A stream that ends right
        after a member's data, without the padding and end-of-archive blocks,
        is accepted as ended, as Go's archive/tar (docker, containerd) does:
        umoci writes such layers, and the diff_id covers the stream as is."""
        try:
            return tar.next()
        except tarfile.ReadError as e:
            if reader.eof and str(e) == "unexpected end of data" and tar.count:
                return None
            raise

    def _member(self, member, tar) -> None:
        if member.isdir() and set(member.name.split("/")) <= {"", "."}:
            parts = ()  # '/', './', '.': the layer root itself (umoci writes '/')
        else:
            parts = self._parts(member.name, member.name)
        try:
            if parts and parts[-1].startswith(WHITEOUT_PREFIX):
                self._whiteout(member, parts)
            elif member.isdir():
                self._directory(member, parts)
            elif not parts:
                raise self._refuse(member.name, "a non-directory cannot replace the layer root")
            elif member.isreg():
                self._regular(member, parts, tar)
            elif member.issym():
                self._symlink(member, parts)
            elif member.islnk():
                self._hardlink(member, parts)
            elif member.isfifo():
                self._fifo(member, parts)
            elif member.ischr() or member.isblk():
                raise self._refuse(member.name, "device nodes are not allowed in layers")
            else:
                raise self._refuse(member.name, f"unsupported member type {member.type!r}")
        except PycontainError:
            raise
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise self._refuse(member.name, f"cannot create: {why}") from None

    # -- one function per entry type -------------------------------------------
    def _directory(self, member, parts) -> None:
        if parts:
            fd = self._parent(parts, member.name)
            replaced_whiteout = parts in self.whiteouts
            if not self._clear(fd, parts, keep_dir=True):
                os.mkdir(parts[-1], 0o700, dir_fd=fd)
                if replaced_whiteout:
                    set_opaque_at(fd, parts[-1], self.opaque_xattr)
        self.dirs[parts] = member

    def _regular(self, member, parts, tar) -> None:
        parent = self._parent(parts, member.name)
        self._clear(parent, parts, keep_dir=False)
        fd = os.open(parts[-1], _FILE_FLAGS, 0o600, dir_fd=parent)
        try:
            written = 0
            src = tar.extractfile(member)
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                written += len(chunk)
            if written != member.size:
                raise self._refuse(member.name, f"truncated: {written} of {member.size} bytes")
            self._owner_and_mode(fd, member)
            self._xattrs(fd, member)
            os.utime(fd, ns=mtime_ns(member))
        finally:
            os.close(fd)

    def _symlink(self, member, parts) -> None:
        if not member.linkname:
            raise self._refuse(member.name, "symlink with an empty target")
        parent = self._parent(parts, member.name)
        name = parts[-1]
        self._clear(parent, parts, keep_dir=False)
        os.symlink(member.linkname, name, dir_fd=parent)
        if self.as_root:
            os.chown(name, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
        os.utime(name, ns=mtime_ns(member), dir_fd=parent, follow_symlinks=False)

    def _hardlink(self, member, parts) -> None:
        target = self._parts(member.linkname, member.name, "hardlink target")
        if not target:
            raise self._refuse(member.name, "hardlink to the layer root")
        if target == parts:
            return
        src_fd = self._walk(target[:-1], member.name, create=False,
                            what="hardlink target directory")
        try:
            try:
                st = os.lstat(target[-1], dir_fd=src_fd)
            except FileNotFoundError:
                raise self._refuse(member.name, f"hardlink target {member.linkname!r} "
                                                "does not exist in this layer") from None
            if target in self.whiteouts or not (
                    stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)
                    or stat.S_ISFIFO(st.st_mode)):
                raise self._refuse(member.name, f"hardlink target {member.linkname!r} "
                                                "is not a file or symlink")
            parent = self._parent(parts, member.name)
            self._clear(parent, parts, keep_dir=False)
            os.link(target[-1], parts[-1], src_dir_fd=src_fd, dst_dir_fd=parent,
                    follow_symlinks=False)
        finally:
            os.close(src_fd)

    def _fifo(self, member, parts) -> None:
        parent = self._parent(parts, member.name)
        name = parts[-1]
        self._clear(parent, parts, keep_dir=False)
        os.mkfifo(name, 0o600, dir_fd=parent)
        if self.as_root:
            os.chown(name, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
        os.chmod(name, member.mode & 0o7777, dir_fd=parent, follow_symlinks=False)
        os.utime(name, ns=mtime_ns(member), dir_fd=parent, follow_symlinks=False)

    def _whiteout(self, member, parts) -> None:
        base = parts[-1]
        parent = self._parent(parts, member.name)
        if base == OPAQUE_MARKER:
            os.setxattr(parent, self.opaque_xattr, b"y")
            return
        if base.startswith(AUFS_META_PREFIX):
            return
        name = base[len(WHITEOUT_PREFIX):]
        if name in ("", ".", ".."):
            raise self._refuse(member.name, f"whiteout of {name!r}")
        try:
            st = os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)
            self.whiteouts.add(parts[:-1] + (name,))
            return
        if stat.S_ISDIR(st.st_mode):
            set_opaque_at(parent, name, self.opaque_xattr)
