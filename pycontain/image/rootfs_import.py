"""`pycontain import TARBALL|DIR NAME[:TAG]`: a flat root filesystem
becomes a one-layer image (like `docker import`).

The layer is written as an uncompressed tar in the pull work area (so its
blob digest is its diff_id), from the directory (numeric owners, modes,
mtimes, symlinks and hardlinks; no xattrs) or re-written member by member
from the tarball (gzip, zstd or plain). Device nodes and sockets are left
out: a container gets its /dev from the runtime, and layers may not carry
devices. The tarball is read through tarsafe (bounded; sparse members and
impossible metadata refused); the layer then goes through the same import
step as every other image (store.add_image), so a hostile tarball is
refused by the unpacker.
"""
import hashlib
import json
import os
import stat
import tarfile
import time

from pycontain.errors import PycontainError, disk_refused
from pycontain.image import compression, manifest as mf, reference, tarsafe
from pycontain.image.staging import PullArea


def _keep(info):
    if info.ischr() or info.isblk():
        return None
    info.uname = info.gname = ""
    return info


def _from_dir(src: str, tar) -> None:
    """Every entry below src, parents first and names sorted, as
    tar.add(recursive=True) does but with a stack: that one recurses, so a
    deep tree would exhaust Python's recursion limit. (Paths are full ones
    here: deeper than PATH_MAX fails with ENAMETOOLONG, and the unpacker
    refuses such names anyway.)"""
    todo = [(os.path.join(src, n), n) for n in sorted(os.listdir(src), reverse=True)]
    while todo:
        path, name = todo.pop()
        tar.add(path, arcname=name, recursive=False, filter=_keep)
        if stat.S_ISDIR(os.lstat(path).st_mode):
            todo += [(os.path.join(path, n), f"{name}/{n}")
                     for n in sorted(os.listdir(path), reverse=True)]


def _from_tarball(src: str, tar, label: str) -> None:
    with open(src, "rb") as raw:
        stream = compression.open_decompressed(raw, label)
        try:
            with tarsafe.open_stream(stream) as source:
                for info in source:
                    if _keep(info) is None:
                        continue
                    tar.addfile(info, source.extractfile(info) if info.isreg() else None)
        except tarsafe.Refused as e:
            raise PycontainError(f"{label}: {e}") from None
        except (tarfile.TarError, EOFError, OSError) as e:
            if disk_refused(e):  # writing the layer failed (import_rootfs says so)
                raise
            raise PycontainError(f"{label}: not a valid tar archive ({e})") from None
        except PycontainError:
            raise
        except Exception as e:  # zlib/zstd errors
            raise PycontainError(f"{label}: corrupt compressed data ({e})") from None
        finally:
            if stream is not raw:
                stream.close()


def _config(diff_id: str, source: str) -> bytes:
    from pycontain.image.pull import parse_platform
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    os_name, arch, _ = parse_platform(None)
    return json.dumps({
        "created": now, "architecture": arch, "os": os_name, "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": now, "created_by": f"pycontain import {source}"}],
    }, separators=(",", ":")).encode()


def _hash_file(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def import_rootfs(store, source: str, name: str):
    """Import the directory or tarball source as the image name."""
    ref = reference.parse(name)
    if ref.digest is not None:
        raise PycontainError(f"an imported image cannot be named by a digest: {name}")
    if not os.path.exists(source):
        raise PycontainError(f"nothing to import at {source}")
    label = f"import {source}"
    with PullArea(store) as area:
        layer = os.path.join(area.dir, "layer.tar")
        try:
            with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
                if os.path.isdir(source):
                    _from_dir(source, tar)
                else:
                    _from_tarball(source, tar, label)
        except OSError as e:
            raise PycontainError(f"{label}: {e.strerror or e}") from None
        diff_id = _hash_file(layer)
        config = _config(diff_id, source)
        doc = {"schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
               "config": {"mediaType": mf.OCI_CONFIG, "size": len(config),
                          "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                           "digest": diff_id, "size": os.path.getsize(layer)}]}
        data = json.dumps(doc, separators=(",", ":")).encode()
        return store.add_image(ref.full, "sha256:" + hashlib.sha256(data).hexdigest(), data,
                               mf.Manifest(doc), lambda desc, limit: config,
                               lambda desc: open(layer, "rb"))
