"""`pycontain save`: one image from the store to an archive file.

docker-archive: the docker save format as skopeo writes it: the config as
<config hex>.json, each layer uncompressed as <diff_id hex>.tar (checked
against its diff_id while written), and manifest.json naming them with the
image's RepoTags. oci-archive: a tar of an OCI layout holding the stored
manifest, config and layer blobs as they are (so the manifest digest is
kept), index.json annotated with the tag (org.opencontainers.image.ref.name)
and the full name (io.containerd.image.name).

The archive is written under a temporary name beside FILE and renamed to
FILE only when complete; on any error nothing is left.
"""
import hashlib
import io
import json
import os
import tarfile

from pycontain.errors import PycontainError
from pycontain.fsutil import replacing
from pycontain.image import manifest as mf, reference
from pycontain.image.archive_load import CONTAINERD_NAME

_CHUNK = 1 << 20


def save_archive(store, ref: str, path: str, fmt: str = "docker-archive") -> None:
    if fmt not in ("docker-archive", "oci-archive"):
        raise PycontainError(f"unknown archive format {fmt!r}")
    data = store._load()
    name, record = store._lookup(data["images"], ref)
    names = [name] if name else sorted(
        k for k, r in data["images"].items() if r["config_digest"] == record["config_digest"])
    names = [n for n in names if "@" not in n]
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise PycontainError(f"cannot write {path}: no directory {directory}")
    with replacing(path) as tmp:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            writer = _Writer(store, tar)
            if fmt == "docker-archive":
                writer.docker(record, data["layers"], names)
            else:
                writer.oci(record, names)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())


class _Writer:
    def __init__(self, store, tar):
        self.store = store
        self.tar = tar

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_stream(name, io.BytesIO(data), len(data))

    def add_stream(self, name: str, stream, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, 0
        try:
            self.tar.addfile(info, stream)
        except OSError as e:
            raise PycontainError(f"cannot write the archive: {e.strerror or e}") from None

    def blob(self, digest: str):
        try:
            return open(self.store.blob_path(digest), "rb")
        except FileNotFoundError:
            raise PycontainError(f"blob {digest} is missing from the store; "
                                 "pull or load the image again") from None

    def blob_bytes(self, digest: str) -> bytes:
        with self.blob(digest) as f:
            return f.read()

    def docker(self, record: dict, layers: dict, names: list) -> None:
        from pycontain.image.compression import open_decompressed
        manifest = mf.load_json(self.blob_bytes(record["manifest_digest"]), "manifest")
        blobs = [layer["digest"] for layer in manifest.get("layers") or []]
        files = []
        for diff_id, blob in zip(record["diff_ids"], blobs):
            size = (layers.get(diff_id) or {}).get("size")
            if not isinstance(size, int):
                raise PycontainError(f"layer {mf.short_digest(diff_id)}: size unknown")
            name = diff_id.partition(":")[2] + ".tar"
            with self.blob(blob) as raw:
                stream = _Hashing(open_decompressed(raw, f"layer {mf.short_digest(diff_id)}"))
                self.add_stream(name, stream, size)
            if stream.digest() != diff_id:
                raise PycontainError(f"layer {mf.short_digest(diff_id)}: stored blob does not "
                                     "match its diff_id; pull or load the image again")
            files.append(name)
        config_name = record["config_digest"].partition(":")[2] + ".json"
        self.add_bytes(config_name, self.blob_bytes(record["config_digest"]))
        tags = [reference.parse(n).familiar for n in names]
        self.add_bytes("manifest.json", json.dumps(
            [{"Config": config_name, "RepoTags": tags, "Layers": files}]).encode())

    def oci(self, record: dict, names: list) -> None:
        manifest_bytes = self.blob_bytes(record["manifest_digest"])
        manifest = mf.load_json(manifest_bytes, "manifest")
        digests = [record["config_digest"]] + [d["digest"] for d in manifest.get("layers") or []]
        self.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        seen = set()
        for digest in [record["manifest_digest"]] + digests:
            if digest in seen:
                continue
            seen.add(digest)
            with self.blob(digest) as f:
                self.add_stream("blobs/sha256/" + digest.partition(":")[2], f,
                                os.fstat(f.fileno()).st_size)
        desc = {"mediaType": manifest.get("mediaType") or mf.OCI_MANIFEST,
                "digest": record["manifest_digest"], "size": len(manifest_bytes)}
        if names:
            ref = reference.parse(names[0])
            desc["annotations"] = {mf.REF_NAME: ref.tag or "latest", CONTAINERD_NAME: ref.full}
        self.add_bytes("index.json", json.dumps(
            {"schemaVersion": 2, "mediaType": mf.OCI_INDEX, "manifests": [desc]}).encode())


class _Hashing:
    def __init__(self, stream):
        self.stream = stream
        self.hash = hashlib.sha256()

    def read(self, n=-1):
        try:
            data = self.stream.read(n)
        except Exception as e:  # zlib/zstd/EOF from a damaged blob
            raise PycontainError(f"stored layer blob is corrupt ({e})") from None
        self.hash.update(data)
        return data

    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()
