"""The directory tree of a layer being unpacked, reached only through fds.

Every path is walked one component at a time from a directory fd of the
layer root with O_DIRECTORY|O_NOFOLLOW, so a path passing through a symlink
(made earlier in the same layer) is refused instead of followed; entries are
then created relative to the fd of their final parent, which is cached while
members stay in one directory. Names are bounded (MAX_NAME) and may not be
absolute or contain '..'.

Metadata kept: owner (as root), mode including setuid/setgid/sticky (chmod
after chown, since chown clears setuid), mtime (directories after their
contents), and xattrs from PAX 'SCHILY.xattr.*' headers in the user.*,
security.capability and system.posix_acl_* namespaces, except user.overlay.*.
Dropped: trusted.* and user.overlay.* (overlayfs's own metadata, read from
the lower layers by a root mount and by a rootless 'userxattr' mount: a
layer must not forge opaque directories, redirects or origins), and every
other security.* name (security.selinux is the host policy's business, as
containers/storage also ignores it; security.ima/evm signatures would be
verified against the host's keys).
"""
import errno
import os
import stat

from pycontain.errors import PycontainError
from pycontain.fstree import remove_at
from pycontain.image.whiteout import WHITEOUT_PREFIX, overlay_xattr_prefix

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_XATTR_PAX = "SCHILY.xattr."
_XATTR_KEEP = ("user.", "security.capability", "system.posix_acl_access",
               "system.posix_acl_default")
_XATTR_DROP = ("user.overlay.",)  # within _XATTR_KEEP
MAX_NAME = 4096  # bytes in a member's name or hardlink target: PATH_MAX, as docker's tar
                 # extraction (full paths) allows; bounds the depth of a layer to ~2048


class LayerTree:
    """The layer root's fd, what this layer made so far (directories whose
    metadata is applied at the end, whiteout devices), and safe walks below it."""

    def __init__(self, root_fd: int, label: str):
        self.root_fd = root_fd
        self.label = label
        self.as_root = os.geteuid() == 0
        self.opaque_xattr = overlay_xattr_prefix() + "opaque"
        self.dirs = {}          # parts -> TarInfo, metadata applied at the end
        self.whiteouts = set()  # parts of whiteout devices made by this layer
        self._cached = None     # (parent parts, fd) of the last parent opened

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
            return os.open(comp, DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            if not create:
                raise self._refuse(member_name,
                                   f"{what} {'/'.join(parts_so_far)!r} does not exist")
            return _new_dir(parent_fd, comp)
        except OSError as e:
            if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            st = os.lstat(comp, dir_fd=parent_fd)
            where = "/".join(parts_so_far)
            if create and tuple(parts_so_far) in self.whiteouts:
                # content below a name this layer whited out: a new, opaque directory
                os.unlink(comp, dir_fd=parent_fd)
                self.whiteouts.discard(tuple(parts_so_far))
                fd = _new_dir(parent_fd, comp)
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
                        up = os.open("..", DIR_FLAGS, dir_fd=fd)
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
                    os.utime(fd, ns=mtime_ns(member))
                except OSError as e:
                    raise self._refuse(member.name, f"cannot set metadata: {e.strerror}") from None
        finally:
            os.close(fd)


def _new_dir(parent_fd: int, comp: str) -> int:
    """An fd of the new directory comp below parent_fd (made 0700, then 0755)."""
    os.mkdir(comp, 0o700, dir_fd=parent_fd)
    fd = os.open(comp, DIR_FLAGS, dir_fd=parent_fd)
    os.chmod(fd, 0o755)
    return fd


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


def mtime_ns(member) -> tuple[int, int]:
    ns = round(member.mtime * 1_000_000_000)
    return ns, ns
