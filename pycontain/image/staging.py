"""The work area of pulls in progress: <root>/pulls/.

A pull downloads its layer blobs and unpacks its layers before it takes the
store lock (which it holds only to rename the results into place), so it
works in a directory of its own, pulls/<random>/, and holds a shared flock
on pulls/lock for its whole run. `image prune` holds that lock exclusively:
it never deletes a blob that a pull has fetched but not yet named, and with
no pull running everything left under pulls/ is a dead pull's and goes.

A downloaded blob is streamed through sha256, checked against its
descriptor's digest and size, fsynced and only then renamed into
blobs/sha256/ (content-addressed and complete, so trusted). Concurrent
pulls of the same blob serialise on pulls/<hex>.lock and fetch it once; a
blob already in the store is never fetched again. Unpacked layers wait in
the pull's directory until the import transaction renames them into
layers/ (see _storeio.add_image's `prepared`).
"""
import fcntl
import os
import secrets

from pycontain import paths
from pycontain.errors import PycontainError
from pycontain.fsutil import remove_tree
from pycontain.image import manifest as mf



class Cancelled(PycontainError):
    def __init__(self):
        super().__init__("pull cancelled")


def pulls_dir(store) -> str:
    return os.path.join(store.root, "pulls")


def _lock(path: str, mode: int) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _clear(directory: str) -> None:
    for name in os.listdir(directory):
        if name != "lock":
            remove_tree(os.path.join(directory, name))


class Exclusive:
    """No pull runs while this is held (blocking, or None-valued with
    nowait when a pull is running); stale pull leftovers are removed."""

    def __init__(self, store, nowait: bool = False):
        self.store = store
        self.mode = fcntl.LOCK_EX | (fcntl.LOCK_NB if nowait else 0)
        self.fd = -1

    def __enter__(self):
        directory = paths.ensure_dir(pulls_dir(self.store))
        try:
            self.fd = _lock(os.path.join(directory, "lock"), self.mode)
        except BlockingIOError:
            return None
        _clear(directory)
        return self

    def __exit__(self, *exc):
        if self.fd >= 0:
            os.close(self.fd)


class PullArea:
    """One pull's directory and its shared hold on pulls/lock."""

    def __init__(self, store):
        self.store = store
        self.cancelled = False
        self.dir = None
        self._fd = -1

    def __enter__(self):
        top = paths.ensure_dir(pulls_dir(self.store))
        paths.ensure_dir(self.store.blobs_dir)
        paths.ensure_dir(self.store.layers_dir)
        lock = os.path.join(top, "lock")
        try:  # alone? then whatever is here is a dead pull's
            self._fd = _lock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _clear(top)
            fcntl.flock(self._fd, fcntl.LOCK_SH)
        except BlockingIOError:
            self._fd = _lock(lock, fcntl.LOCK_SH)
        self.dir = os.path.join(top, secrets.token_hex(8))
        os.mkdir(self.dir, 0o700)
        return self

    def __exit__(self, *exc):
        remove_tree(self.dir)
        os.close(self._fd)

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()

    # -- blobs ----------------------------------------------------------------
    def fetch_blob(self, desc, open_blob, bar) -> str:
        """Path of desc's blob in the store, downloaded unless already there."""
        final = self.store.blob_path(desc.digest)
        if os.path.exists(final):
            bar.done("already in the store")
            return final
        hexpart = desc.digest.partition(":")[2]
        lock = os.path.join(pulls_dir(self.store), f"{hexpart}.lock")
        fd = _lock(lock, fcntl.LOCK_EX)
        try:
            if os.path.exists(final):
                bar.done("fetched by another pull")
                return final
            tmp = os.path.join(self.dir, hexpart)
            self._download(desc, open_blob, tmp, bar)
            os.rename(tmp, final)
        finally:
            # a pull waiting on this lock re-checks for the blob once it has it
            try:
                os.unlink(lock)
            except FileNotFoundError:
                pass
            os.close(fd)
        bar.done("done")
        return final

    def _download(self, desc, open_blob, tmp, bar) -> None:
        from pycontain.image._storeio import copy_verified

        def chunk_done(n):
            self.check()
            bar.update(n)
        with open_blob(desc) as src:
            copy_verified(desc, src, tmp, chunk_done)

    # -- layers -----------------------------------------------------------------
    def prepare_layer(self, diff_id: str, blob_path: str):
        """(directory, size) of the layer unpacked here, or None when the
        store has it already."""
        from pycontain.image.compression import open_decompressed
        from pycontain.image.unpack import unpack_layer

        if os.path.isdir(self.store.layer_dir(diff_id)):
            return None
        label = mf.short_digest(diff_id)
        dest = os.path.join(self.dir, "layer-" + diff_id.partition(":")[2])
        with open(blob_path, "rb") as raw:
            stream = open_decompressed(raw, f"layer {label}")
            try:
                _, size = unpack_layer(_Checked(stream, self), dest, label=label,
                                       diff_id=diff_id)
            finally:
                if stream is not raw:
                    stream.close()
        return dest, size


class _Checked:
    """A stream whose reads stop when the pull is cancelled."""

    def __init__(self, stream, area):
        self._stream = stream
        self._area = area

    def read(self, n=-1):
        self._area.check()
        return self._stream.read(n)
