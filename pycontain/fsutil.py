"""Small file-system helpers shared by the store and the runtime."""
import os
import stat

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.fdio import write_all


class replacing:  # noqa: N801 - used like a function: `with replacing(path) as tmp:`
    """Give a temporary name beside path; on success it is renamed over path
    (so a crash leaves the old or the new content), on failure it is removed.
    A class, not contextlib: that import costs ~3 ms on the start path."""

    def __init__(self, path: str):
        self.path = path
        self.tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"  # unique across threads

    def __enter__(self) -> str:
        return self.tmp

    def __exit__(self, kind, _value, _tb) -> None:
        try:
            if kind is None:
                os.rename(self.tmp, self.path)
                return
        except BaseException:
            self._discard()
            raise
        self._discard()

    def _discard(self) -> None:
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


class locked_file:  # noqa: N801 - used like a function: `with locked_file(path):`
    """Hold an exclusive flock on the file path (created 0600 if missing)
    for the block; a class, not contextlib, as `replacing`."""

    def __init__(self, path: str):
        self.path = path
        self.fd = -1

    def __enter__(self) -> int:
        import fcntl
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise
        return self.fd

    def __exit__(self, *_exc) -> None:
        os.close(self.fd)


def write_new(path: str, data: bytes, mode: int = 0o600, sync: bool = False,
              name: str | None = None) -> None:
    """Create the file path (it must not exist) holding data. A write the disk
    refuses names the file (name, if given) in its error: os.write's name none."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        write_all(fd, data)
        if sync:
            os.fsync(fd)
    except OSError as exc:
        exc.filename = exc.filename or name or path
        raise
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes, mode: int = 0o600, sync: bool = True) -> None:
    """Write data to path atomically (see replacing), fsynced unless sync is False."""
    with replacing(path) as tmp:
        write_new(tmp, data, mode, sync, name=path)


def write_json(path: str, obj, sync: bool = True) -> None:
    write_atomic(path, jsonio.dumps(obj).encode(), sync=sync)


class TooLarge(PycontainError):
    """A file over the size its reader allows."""


def read_capped(path: str, limit: int, what: str = "") -> bytes:
    """A whole file of at most limit bytes, never reading more than limit + 1;
    one PycontainError line if it cannot be read, TooLarge if it is larger."""
    name = f"{what} {path}" if what else path
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise PycontainError(f"cannot read {name}: {exc.strerror}") from None
    if len(data) > limit:
        raise TooLarge(f"{name} is larger than {limit} bytes")
    return data


def read_json(path: str):
    with open(path, "rb") as f:
        return jsonio.loads(f.read())


def remove_tree(path: str) -> None:
    """Remove a directory tree (or a file) of any depth, never following
    symlinks nor entering another mount (see fstree); a missing one is fine.
    Files made immutable or append-only are unlocked first (as root);
    rootless, directories that deny us get owner permissions, and a
    container's files of subordinate ids are removed from a user namespace
    with our mapping. A mount inside the tree is left in place, with the
    directories above it, and reported as a PycontainError after the rest
    is gone; path itself on another file system than its parent is refused
    (a bind mount of the same file system exactly at path is not noticed).

    Hand-rolled rather than shutil.rmtree, which recurses (so fails on deep
    trees) and whose imports cost ~2 ms on the path every `run --rm` takes.
    """
    from pycontain.fstree import DIR_FLAGS, remove_contents
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
        fd = os.open(path, DIR_FLAGS)
    except FileNotFoundError:  # none, or another remover was first
        return
    try:
        if os.fstat(fd).st_dev != os.stat(os.path.dirname(os.path.abspath(path))).st_dev:
            raise PycontainError(f"cannot remove {path}: it is a mount point; unmount it first")
        kept = remove_contents(fd)
    except PermissionError:
        if os.geteuid() == 0:
            raise
        from pycontain.oci.userns import run_mapped  # rootless: files of sub-ids
        run_mapped(lambda: remove_tree(path), f"cannot remove {path}")
        return
    finally:
        os.close(fd)
    if kept:
        raise PycontainError(f"cannot remove {path} entirely: a file system is mounted on "
                             f"{kept[0]!r} inside it (kept, with the directories above it); "
                             "unmount it and remove again")
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
