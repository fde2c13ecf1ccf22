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
  reach anything outside the container); other member types are refused.

What is kept: owner (as root), mode including setuid/setgid/sticky (chmod
after chown, since chown clears setuid), mtime (directories after their
contents), and xattrs from PAX 'SCHILY.xattr.*' headers in the user.*,
security.capability and system.posix_acl_* namespaces, except user.overlay.*.
Dropped: trusted.* and user.overlay.* (overlayfs's own metadata, read from
the lower layers by a root mount and by a rootless 'userxattr' mount: a
layer must not forge opaque directories, redirects or origins), and every
other security.* name (security.selinux is the host policy's business, as
containers/storage also ignores it; security.ima/evm signatures would be
verified against the host's keys). Symlinks get owner and mtime, no xattrs.

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
import errno
import os
import secrets
import stat
import tarfile

from pycontain.errors import PycontainError
from pycontain.fsutil import remove_tree
from pycontain.fstree import remove_at

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
AUFS_META_PREFIX = ".wh..wh."

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_XATTR_PAX = "SCHILY.xattr."
_XATTR_KEEP = ("user.", "security.capability", "system.posix_acl_access",
               "system.posix_acl_default")
_XATTR_DROP = ("user.overlay.",)  # within _XATTR_KEEP
_CHUNK = 1 << 20
MAX_NAME = 4096  # bytes in a member's name or hardlink target: PATH_MAX, as docker's tar
                 # extraction (full paths) allows; bounds the depth of a layer to ~2048


def overlay_xattr_prefix() -> str:
    return "trusted.overlay." if os.geteuid() == 0 else "user.overlay."


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
        root_fd = os.open(tmp, _DIR_FLAGS)
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


class _HashingReader:
    """Read-through wrapper hashing and counting the uncompressed stream;
    turns decompression failures into one clear PycontainError."""

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
        return data

    def drain(self):
        while self.read(_CHUNK):
            pass


class _Unpacker:
    def __init__(self, root_fd: int, label: str):
        self.root_fd = root_fd
        self.label = label
        self.as_root = os.geteuid() == 0
        self.opaque_xattr = overlay_xattr_prefix() + "opaque"
        self.dirs = {}          # parts -> TarInfo, metadata applied at the end
        self.whiteouts = set()  # parts of whiteout devices made by this layer
        self._cached = None     # (parent parts, fd) of the last parent opened

    # -- driver ---------------------------------------------------------------
    def run(self, reader) -> None:
        try:
            try:
                tar = tarfile.open(fileobj=reader, mode="r|")
                while (member := self._next(tar, reader)) is not None:
                    self._member(member, tar)
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
            if reader.eof and str(e) == "unexpected end of data" and tar.members:
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

    def _refuse(self, name: str, why: str) -> PycontainError:
        return PycontainError(f"layer {self.label}: member {name!r}: {why}")

    def _parts(self, name: str, member_name: str, what: str = "name") -> tuple:
        if not name:
            raise self._refuse(member_name, f"empty {what}")
        if len(os.fsencode(name)) > MAX_NAME:
            raise self._refuse(member_name[:64] + "...", f"{what} longer than {MAX_NAME} bytes")
        if name.startswith("/"):
            raise self._refuse(member_name, f"absolute {what} {name!r}")
        parts = tuple(p for p in name.split("/") if p not in ("", "."))
        if ".." in parts:
            raise self._refuse(member_name, f"{what} {name!r} has a '..' component")
        return parts

    # -- walking --------------------------------------------------------------
    def _open_dir(self, parent_fd, comp, parts_so_far, member_name, create,
                  what="directory") -> int:
        if comp.startswith(WHITEOUT_PREFIX):
            raise self._refuse(member_name, f"whiteout name {comp!r} used as a directory")
        try:
            return os.open(comp, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            if not create:
                raise self._refuse(member_name,
                                   f"{what} {'/'.join(parts_so_far)!r} does not exist")
            os.mkdir(comp, 0o700, dir_fd=parent_fd)
            fd = os.open(comp, _DIR_FLAGS, dir_fd=parent_fd)
            os.chmod(fd, 0o755)
            return fd
        except OSError as e:
            if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            st = os.lstat(comp, dir_fd=parent_fd)
            where = "/".join(parts_so_far)
            if create and tuple(parts_so_far) in self.whiteouts:
                # content below a name this layer whited out: a new, opaque directory
                os.unlink(comp, dir_fd=parent_fd)
                self.whiteouts.discard(tuple(parts_so_far))
                os.mkdir(comp, 0o700, dir_fd=parent_fd)
                fd = os.open(comp, _DIR_FLAGS, dir_fd=parent_fd)
                os.chmod(fd, 0o755)
                os.setxattr(fd, self.opaque_xattr, b"y")
                return fd
            if stat.S_ISLNK(st.st_mode):
                raise self._refuse(member_name, f"path passes through the symlink {where!r}")
            raise self._refuse(member_name, f"{where!r} is not a directory")

    def _walk(self, dir_parts, member_name, create, what="directory", start=None) -> int:
        """A new fd for the directory dir_parts below the layer root (or below
        start: (fd, n) of its first n components, when they are open)."""
        base, done = start or (self.root_fd, 0)
        fd = os.dup(base)
        try:
            for i in range(done, len(dir_parts)):
                comp = dir_parts[i]
                nfd = self._open_dir(fd, comp, dir_parts[:i + 1], member_name, create, what)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _parent(self, parts, member_name) -> int:
        """fd of the parent of parts (created if missing); owned by the cache."""
        dir_parts = parts[:-1]
        start = None
        if self._cached:
            cached, cached_fd = self._cached
            if cached == dir_parts:
                return cached_fd
            if dir_parts[:len(cached)] == cached:  # below it: a deep layer walks on from there
                start = (cached_fd, len(cached))
        fd = self._walk(dir_parts, member_name, create=True, start=start)
        self._drop_cache()
        self._cached = (dir_parts, fd)
        return fd

    def _drop_cache(self) -> None:
        if self._cached:
            os.close(self._cached[1])
            self._cached = None

    def _clear(self, parent_fd, parts, keep_dir: bool) -> bool:
        """Remove what exists at parts so a new entry can take its place.
        Returns True if a directory is there (and kept)."""
        name = parts[-1]
        try:
            st = os.lstat(name, dir_fd=parent_fd)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            if self._cached and self._cached[0][:len(parts)] == parts:
                self._drop_cache()
            for sub in [d for d in self.dirs if d[:len(parts)] == parts]:
                del self.dirs[sub]
            self.whiteouts = {w for w in self.whiteouts if w[:len(parts)] != parts}
            remove_at(parent_fd, name)
            return False
        os.unlink(name, dir_fd=parent_fd)
        self.whiteouts.discard(parts)
        return False

    # -- one function per entry type -------------------------------------------
    def _directory(self, member, parts) -> None:
        if parts:
            fd = self._parent(parts, member.name)
            replaced_whiteout = parts in self.whiteouts
            if not self._clear(fd, parts, keep_dir=True):
                os.mkdir(parts[-1], 0o700, dir_fd=fd)
                if replaced_whiteout:
                    dfd = os.open(parts[-1], _DIR_FLAGS, dir_fd=fd)
                    try:
                        os.setxattr(dfd, self.opaque_xattr, b"y")
                    finally:
                        os.close(dfd)
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
            os.utime(fd, ns=_mtime_ns(member))
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
        os.utime(name, ns=_mtime_ns(member), dir_fd=parent, follow_symlinks=False)

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
        os.utime(name, ns=_mtime_ns(member), dir_fd=parent, follow_symlinks=False)

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
            dfd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            try:
                os.setxattr(dfd, self.opaque_xattr, b"y")
            finally:
                os.close(dfd)

    # -- metadata --------------------------------------------------------------
    def _owner_and_mode(self, fd, member) -> None:
        if self.as_root:
            os.chown(fd, member.uid, member.gid)
        os.chmod(fd, member.mode & 0o7777)

    def _xattrs(self, fd, member) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith(_XATTR_PAX):
                continue
            name = key[len(_XATTR_PAX):]
            if not name.startswith(_XATTR_KEEP) or name.startswith(_XATTR_DROP):
                continue
            raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
            try:
                os.setxattr(fd, name, raw)
            except OSError as e:
                if e.errno != errno.EOPNOTSUPP:
                    raise

    def _finish_directories(self) -> None:
        """Owner, mode, xattrs and mtime of directories, each after all below
        it (reverse name order), so that creating their contents did not
        disturb them. Moves from one to the next ('..' up to their common
        part, then down), not from the root: a deep layer stays linear."""
        here, fd = (), os.dup(self.root_fd)
        try:
            for parts in sorted(self.dirs, reverse=True):
                member = self.dirs[parts]
                common = _common_length(here, parts)
                try:
                    while len(here) > common:
                        up = os.open("..", _DIR_FLAGS, dir_fd=fd)
                        os.close(fd)
                        fd, here = up, here[:-1]
                except OSError:  # a directory that denies search (rootless): from the top
                    os.close(fd)
                    fd, here = self._walk(here[:common], member.name, create=False), here[:common]
                try:
                    sub = self._walk(parts, member.name, create=False, start=(fd, common))
                except PycontainError:
                    continue  # replaced by a later entry
                os.close(fd)
                fd, here = sub, parts
                try:
                    self._owner_and_mode(fd, member)
                    self._xattrs(fd, member)
                    os.utime(fd, ns=_mtime_ns(member))
                except OSError as e:
                    raise self._refuse(member.name, f"cannot set metadata: {e.strerror}") from None
        finally:
            os.close(fd)


def _common_length(a: tuple, b: tuple) -> int:
    """Length of the common start of a and b (bisected: slices compare in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _mtime_ns(member) -> tuple[int, int]:
    ns = round(member.mtime * 1_000_000_000)
    return ns, ns
