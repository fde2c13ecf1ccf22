"""Small file-system helpers shared by the store and the runtime."""
import os
import stat

from pycontain import jsonio
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


def read_json(path: str):
    with open(path, "rb") as f:
        return jsonio.loads(f.read())


def _writable(retry):
    """Call retry(); if the directory it works in denies us, give it (a dir fd
    or a name under one) owner permissions and call once more."""
    def attempt(dir_fd: int, name=None):
        try:
            return retry()
        except PermissionError:
            if name is None:
                os.chmod(dir_fd, 0o700)
            else:
                os.chmod(name, 0o700, dir_fd=dir_fd, follow_symlinks=False)
            return retry()
    return attempt


def _remove_contents(dir_fd: int) -> None:
    """Empty a directory; what another remover takes first is fine."""
    for entry in os.scandir(dir_fd):
        name = entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                sub = _writable(lambda: os.open(name, flags, dir_fd=dir_fd))(dir_fd, name)
                try:
                    _remove_contents(sub)
                finally:
                    os.close(sub)
                _writable(lambda: os.rmdir(name, dir_fd=dir_fd))(dir_fd)
            else:
                _writable(lambda: os.unlink(name, dir_fd=dir_fd))(dir_fd)
        except FileNotFoundError:
            pass


def remove_tree(path: str) -> None:
    """Remove a directory tree (or a file), never following symlinks; a missing
    one is fine. Directories that deny us (an unpacked layer may hold some) get
    owner permissions first; a rootless container's files of subordinate ids
    are removed from a user namespace with our mapping.

    Hand-rolled rather than shutil.rmtree, whose imports cost ~2 ms on the
    path every `run --rm` takes.
    """
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:  # none, or another remover was first
        return
    try:
        _remove_contents(fd)
    except PermissionError:
        if os.geteuid() == 0:
            raise
        from pycontain.runtime.userns import remove_tree_mapped  # rootless: files of sub-ids
        remove_tree_mapped(path)
        return
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
