"""The writing side of the image store (imported only by writers).

StoreLock: the exclusive flock writers hold, which also removes what a
crashed writer left ('*.tmp-*' names). atomic_write_json: temp file in the
same directory, fsync, rename, fsync of the directory. add_image: the import
transaction: the config's shape is checked (config_check), every blob is
copied to a temporary file while hashed and is checked against its digest
and size, every new layer is unpacked under a temporary name and checked
against its diff_id, and a layer blob other than the one its layer was
unpacked from (the same layer in another compression) is checked against
the diff_id too, so no blob can claim a layer it does not hold; only when
all of it verified is it synced and renamed into place, and then
images.json names the image. A blob or layer already in the store is never
written again, and its blob in images.json never replaced.
"""
import contextlib
import fcntl
import hashlib
import os
import secrets
import time

from pycontain import paths
from pycontain.errors import PycontainError
from pycontain.fsutil import remove_tree, write_atomic, write_new
from pycontain.fstree import tree_size as _tree_size  # any depth: os.walk recurses
from pycontain.image import config_check, manifest as mf

_CHUNK = 1 << 20
TMP_MARK = ".tmp-"


def _tmp_name(path: str) -> str:
    return f"{path}{TMP_MARK}{secrets.token_hex(6)}"


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def syncfs(path: str) -> None:
    """Flush the filesystem holding path (syncfs(2); sync(2) if unavailable)."""
    import ctypes
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if getattr(libc, "syncfs", None) is None or libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def atomic_write_json(path: str, obj) -> None:
    import json
    data = json.dumps(obj, indent=1, sort_keys=True).encode() + b"\n"
    atomic_write_bytes(path, data)


def atomic_write_bytes(path: str, data: bytes, mode: int = 0o600) -> None:
    """write_atomic (fsynced), then the directory too: the rename is durable."""
    write_atomic(path, data, mode)
    fsync_dir(os.path.dirname(path))


def _private(path: str, flags: int) -> int:
    """open()'s opener for blobs: mode 0600, readable by the store's owner only."""
    return os.open(path, flags, 0o600)


def copy_verified(desc, src, path: str, on_chunk=None) -> None:
    """Copy the stream src to the new file path, checking that it is exactly
    desc's size and sha256 digest; fsync it. on_chunk(n) follows progress
    (and may raise to stop)."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "xb", opener=_private) as dst:
        while size <= desc.size:
            try:
                chunk = src.read(min(_CHUNK, desc.size + 1 - size))
            except PycontainError:
                raise
            except Exception as e:  # OSError, http.client.IncompleteRead, timeouts
                raise PycontainError(f"blob {desc.digest}: read failed "
                                     f"({type(e).__name__}: {e})") from None
            if not chunk:
                break
            hasher.update(chunk)
            try:
                dst.write(chunk)
            except OSError as exc:  # a full disk: name the file (write names none)
                exc.filename = exc.filename or path
                raise
            size += len(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
        if size != desc.size:
            raise PycontainError(
                f"blob {desc.digest}: size does not match its descriptor "
                f"({'more than ' if size > desc.size else ''}{size} bytes, "
                f"expected {desc.size})")
        got = "sha256:" + hasher.hexdigest()
        if got != desc.digest:
            raise PycontainError(
                f"blob {desc.digest}: content does not match its digest (got {got})")
        try:
            dst.flush()
            os.fsync(dst.fileno())
        except OSError as exc:
            exc.filename = exc.filename or path
            raise


class StoreLock:
    """Exclusive writer lock on root/store.lock (creates the store dirs)."""

    def __init__(self, store):
        self.store = store
        self.fd = -1

    def __enter__(self):
        store = self.store
        for directory in (store.root, store.blobs_dir, store.layers_dir):
            paths.ensure_dir(directory)
        st = os.stat(store.root)
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            os.chmod(store.root, 0o700)  # made open to all by an older pycontain
        self.fd = os.open(store.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            remove_stale(store)
        except BaseException:
            os.close(self.fd)
            raise
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing the only fd releases the flock
        self.fd = -1


def remove_stale(store) -> None:
    """Remove temporaries of an image-store writer that died; call with the
    lock held. In the data root only images.json temporaries are ours (the
    runtime keeps its own files there)."""
    root_prefix = os.path.basename(store.images_file) + TMP_MARK
    for name in os.listdir(store.root):
        if name.startswith(root_prefix):
            remove_tree(os.path.join(store.root, name))
    for directory in (store.blobs_dir, store.layers_dir):
        for name in os.listdir(directory):
            if TMP_MARK in name:
                remove_tree(os.path.join(directory, name))


class _Transaction:
    def __init__(self, store):
        self.store = store
        self.pending = []   # (temporary path, final path)
        self.blobs = {}     # digest -> path to read it from now
        self.layers = {}    # diff_id -> uncompressed size
        self.made = {}      # diff_id -> digest of the blob unpacked (here) into it
        self.checked = set()  # (diff_id, blob digest) known to match

    def blob_bytes(self, digest: str, data: bytes) -> None:
        got = "sha256:" + hashlib.sha256(data).hexdigest()
        if got != digest:
            raise PycontainError(f"blob {digest}: content does not match its digest (got {got})")
        final = self.store.blob_path(digest)
        if digest in self.blobs or os.path.exists(final):
            self.blobs.setdefault(digest, final)
            return
        tmp = _tmp_name(final)
        self.pending.append((tmp, final))
        write_new(tmp, data, 0o600, sync=True)
        self.blobs[digest] = tmp

    def blob_stream(self, desc, open_blob) -> str:
        """Copy the blob of desc into the store (verified); return its path."""
        if desc.digest in self.blobs:
            return self.blobs[desc.digest]
        final = self.store.blob_path(desc.digest)
        if os.path.exists(final):
            self.blobs[desc.digest] = final
            return final
        tmp = _tmp_name(final)
        self.pending.append((tmp, final))
        with open_blob(desc) as src:
            copy_verified(desc, src, tmp)
        self.blobs[desc.digest] = tmp
        return tmp

    def layer(self, diff_id: str, digest: str, blob_path: str, known: dict,
              prepared=None) -> int:
        """Unpack the layer once per diff_id from the blob digest (at
        blob_path); return its uncompressed size. A blob other than the one
        the layer was unpacked from, here or at its import (known: images.json's
        layers), is checked against the diff_id. prepared: (directory, size)
        of this layer already unpacked from this blob and verified by the
        caller on the store's filesystem, to be renamed in."""
        if diff_id not in self.layers:
            self.layers[diff_id] = self._make(diff_id, digest, blob_path, known, prepared)
        if (diff_id, digest) not in self.checked:
            self._check(diff_id, digest, blob_path)
        return self.layers[diff_id]

    def _check(self, diff_id, digest, blob_path) -> None:
        """The blob digest must uncompress to diff_id (hashed, not unpacked)."""
        from pycontain.image.unpack import layer_digest
        label = mf.short_digest(diff_id)
        with _uncompressed(blob_path, label) as stream:
            got = layer_digest(stream, label)
        if got != diff_id:
            raise PycontainError(f"layer {label}: blob {digest} does not match its "
                                 f"diff_id (expected {diff_id}, got {got})")
        self.checked.add((diff_id, digest))

    def _make(self, diff_id, digest, blob_path, known, prepared) -> int:
        final = self.store.layer_dir(diff_id)
        if os.path.isdir(final):
            entry = known.get(diff_id) or {}
            self.checked.add((diff_id, entry.get("blob")))
            size = entry.get("size")
            return size if isinstance(size, int) else _tree_size(final)
        self.made[diff_id] = digest
        self.checked.add((diff_id, digest))
        if prepared is not None:
            self.pending.append((prepared[0], final))
            return prepared[1]
        from pycontain.image.unpack import unpack_layer
        label = mf.short_digest(diff_id)
        dest = _tmp_name(final)
        with _uncompressed(blob_path, label) as stream:
            _, size = unpack_layer(stream, dest, label=label, diff_id=diff_id)
        self.pending.append((dest, final))
        return size

    def commit(self) -> None:
        if not self.pending:
            return
        syncfs(self.store.root)
        for tmp, final in self.pending:
            os.rename(tmp, final)
        fsync_dir(self.store.blobs_dir)
        fsync_dir(self.store.layers_dir)
        self.pending = []

    def abort(self) -> None:
        for tmp, _ in self.pending:
            try:
                remove_tree(tmp)
            except OSError:
                pass
        self.pending = []


@contextlib.contextmanager
def _uncompressed(blob_path: str, label: str):
    """The layer blob at blob_path, as its uncompressed stream."""
    from pycontain.image.compression import open_decompressed
    with open(blob_path, "rb") as raw:
        stream = open_decompressed(raw, f"layer {label}")
        try:
            yield stream
        finally:
            if stream is not raw:
                stream.close()


def add_image(store, full_name, manifest_digest, manifest_bytes, manifest,
              read_small_blob, open_blob, prepared=None):
    config_bytes = read_small_blob(manifest.config, mf.MAX_CONFIG_SIZE)
    config = mf.load_json(config_bytes, f"image config {manifest.config.digest}")
    config_check.check(config, manifest.config.digest)
    diff_ids = mf.diff_ids(config)
    if len(diff_ids) != len(manifest.layers):
        raise PycontainError(f"image {full_name}: the manifest has {len(manifest.layers)} "
                             f"layers but the config lists {len(diff_ids)} diff_ids")
    if config.get("os", "linux") != "linux":
        raise PycontainError(f"image {full_name} is for {config.get('os')!r}, not linux")

    with store._locked():
        data = store._load()
        txn = _Transaction(store)
        try:
            txn.blob_bytes(manifest_digest, manifest_bytes)
            txn.blob_bytes(manifest.config.digest, config_bytes)
            total = 0
            for desc, diff_id in zip(manifest.layers, diff_ids):
                blob = txn.blob_stream(desc, open_blob)
                size = txn.layer(diff_id, desc.digest, blob, data["layers"],
                                 (prepared or {}).get(diff_id))
                if diff_id in txn.made or diff_id not in data["layers"]:
                    data["layers"][diff_id] = {"size": size,
                                               "blob": txn.made.get(diff_id, desc.digest)}
                total += size
            txn.commit()
        except BaseException:
            txn.abort()
            raise
        created = config.get("created")
        if not isinstance(created, str) or not created:
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record = {"manifest_digest": manifest_digest,
                  "config_digest": manifest.config.digest,
                  "diff_ids": diff_ids, "created": created, "size": total}
        data["images"][full_name] = record
        store._save(data)
    return store._image(full_name, record)


def add_layer(store, tar_path: str, diff_id: str) -> None:
    """Put one uncompressed layer tar (blob digest = diff_id) into the store
    and unpack it, without naming any image (a build's intermediate layer)."""
    size = os.path.getsize(tar_path)
    desc = mf.Descriptor({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                          "digest": diff_id, "size": size})
    with store._locked():
        data = store._load()
        txn = _Transaction(store)
        try:
            blob = txn.blob_stream(desc, lambda d: open(tar_path, "rb"))
            unpacked = txn.layer(diff_id, diff_id, blob, data["layers"])
            txn.commit()
        except BaseException:
            txn.abort()
            raise
        if diff_id not in data["layers"]:
            data["layers"][diff_id] = {"size": unpacked, "blob": diff_id}
            store._save(data)
