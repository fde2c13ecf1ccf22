"""`pycontain load`: images from a docker-archive (docker save) or an
oci-archive (a tar of an OCI layout), gzip- or zstd-compressed or not.

A compressed archive is first decompressed into the pull work area
(staging.py), up to MAX_ARCHIVE_BYTES, so members can be read in any order;
the archive is read through tarsafe (bounded). Everything read from the
archive is checked as from a registry: an OCI archive's manifests and
configs against their digests, every layer against its diff_id while
unpacked. A docker archive has no manifest of its own: one is made (OCI
media types) from its config and layer files, so its digest is pycontain's.

Names: a docker archive's RepoTags (normalised as docker does); an OCI
archive's 'io.containerd.image.name' annotation, else its
'org.opencontainers.image.ref.name' (a short name goes under localhost/, a
bare tag names localhost/<archive file name>:TAG); an image with no name
gets NAME when given, else localhost/<archive file name>:latest.
"""
import hashlib
import json
import os
import posixpath
import tarfile

from pycontain import jsonio
from pycontain.errors import PycontainError, disk_refused
from pycontain.image import compression, manifest as mf, reference, tarsafe
from pycontain.image.oci_layout import OCILayout, _tag_of
from pycontain.image.staging import PullArea

CONTAINERD_NAME = "io.containerd.image.name"
MAX_ARCHIVE_BYTES = 256 << 30  # a decompressed archive: several images of the largest layers
_CHUNK = 1 << 20


class Archive:
    """Random access to the members of an uncompressed tar file."""

    def __init__(self, path: str, label: str):
        self.label = label
        try:
            self.tar = tarsafe.open_archive(path)
            members = self.tar.getmembers()
        except tarsafe.Refused as e:
            raise PycontainError(f"{label}: {e}") from None
        except (tarfile.TarError, OSError) as e:
            raise PycontainError(f"{label}: not a tar archive ({e})") from None
        self.members = {_norm(m.name): m for m in members}

    def has(self, name: str) -> bool:
        return _norm(name) in self.members

    def open(self, name: str):
        member = self.members.get(_norm(name))
        for _ in range(8):  # follow links inside the archive
            if member is None or not (member.issym() or member.islnk()):
                break
            base = posixpath.dirname(member.name) if member.issym() else ""
            member = self.members.get(_norm(posixpath.join(base, member.linkname)))
        if member is None:
            raise FileNotFoundError(name)
        if not member.isreg():
            raise PycontainError(f"{self.label}: {name} is not a regular file")
        return self.tar.extractfile(member)

    def read(self, name: str, limit: int) -> bytes:
        try:
            with self.open(name) as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            raise PycontainError(f"{self.label}: {name} is missing") from None
        if len(data) > limit:
            raise PycontainError(f"{self.label}: {name} is too large")
        return data


def _norm(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


class ArchiveLayout(OCILayout):
    """An OCI layout read from an Archive."""

    def __init__(self, archive: Archive, label: str):
        self.archive = archive
        self.directory = label
        self._load_index(label)

    def _open(self, relpath: str):
        return self.archive.open(relpath)


def load_archive(store, path: str, name: str | None = None) -> list:
    """Load every image of the archive at path; returns the stored images."""
    if not os.path.isfile(path):
        raise PycontainError(f"no archive file at {path}")
    label = f"archive {path}"
    stem = os.path.basename(path).split(".")[0].lower() or "image"
    with PullArea(store) as area:
        archive = Archive(_uncompressed(path, area.dir, label), label)
        if archive.has("manifest.json"):
            return _load_docker(store, archive, label, stem, name)
        if archive.has("index.json") and archive.has("oci-layout"):
            return _load_oci(store, archive, label, stem, name)
        raise PycontainError(f"{label}: neither a docker archive (manifest.json) nor an "
                             "OCI archive (oci-layout, index.json)")


def _uncompressed(path: str, workdir: str, label: str) -> str:
    with open(path, "rb") as f:
        if compression.sniff(f.read(4)) == "none":
            return path
        f.seek(0)
        out = os.path.join(workdir, "archive.tar")
        stream = compression.open_decompressed(f, label)
        try:
            with open(out, "xb") as dst:
                written = 0
                while chunk := stream.read(_CHUNK):
                    written += len(chunk)
                    if written > MAX_ARCHIVE_BYTES:
                        raise PycontainError(f"{label}: more than {MAX_ARCHIVE_BYTES} bytes "
                                             "uncompressed")
                    dst.write(chunk)
        except PycontainError:
            raise
        except (OSError, EOFError, ValueError) as e:
            if disk_refused(e):  # our write failed: the data is not corrupt
                e.filename = e.filename or out
                raise
            raise PycontainError(f"{label}: corrupt or truncated compressed data ({e})") from None
        except Exception as e:  # zlib/zstd errors
            raise PycontainError(f"{label}: corrupt compressed data ({e})") from None
        finally:
            stream.close()
    return out


def _default_name(stem: str, name: str | None, tag: str = reference.DEFAULT_TAG) -> str:
    if name:
        ref = reference.parse(name)
    else:
        try:
            ref = reference.parse(f"localhost/{stem}:{tag}")
        except PycontainError:
            raise PycontainError(f"cannot make an image name from the archive's file name "
                                 f"{stem!r}: give a NAME") from None
    if ref.digest is not None:
        raise PycontainError(f"a loaded image cannot be named by a digest: {name}")
    return ref.full


def _name_all(store, image, names: list):
    for extra in names[1:]:
        store.tag(image.id, extra)
    return image


# -- docker save format --------------------------------------------------------
def _load_docker(store, archive, label, stem, name) -> list:
    entries = jsonio.parse(archive.read("manifest.json", mf.MAX_MANIFEST_SIZE),
                           f"{label}: manifest.json")
    if not isinstance(entries, list) or not entries:
        raise PycontainError(f"{label}: manifest.json lists no images")
    loaded = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise PycontainError(f"{label}: malformed manifest.json entry")
        layer_files = _strings(entry, "Layers", label, required=True)
        names = [reference.parse(t).full for t in _strings(entry, "RepoTags", label)]
        if not names:
            names = [_default_name(stem, name)]
        config_bytes = archive.read(entry["Config"], mf.MAX_CONFIG_SIZE)
        config_desc = {"mediaType": mf.OCI_CONFIG, "size": len(config_bytes),
                       "digest": "sha256:" + hashlib.sha256(config_bytes).hexdigest()}
        layers, files = [], {}
        for layer in layer_files:
            desc = _describe(archive, layer, label)
            files[desc["digest"]] = layer
            layers.append(desc)
        doc = {"schemaVersion": 2, "mediaType": mf.OCI_MANIFEST, "config": config_desc,
               "layers": layers}
        data = json.dumps(doc, separators=(",", ":")).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        image = store.add_image(
            names[0], digest, data, mf.Manifest(doc),
            lambda desc, limit, b=config_bytes: b,
            lambda desc, f=files: archive.open(f[desc.digest]))
        loaded.append(_name_all(store, image, names))
    return loaded


def _strings(entry: dict, key: str, label: str, required: bool = False) -> list:
    """entry[key], a list of strings ([] if absent or null and not required)."""
    value = entry.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PycontainError(f"{label}: manifest.json: {key} is not a list of strings")
    return value


def _describe(archive, member: str, label: str) -> dict:
    """An OCI layer descriptor for the layer file member (hashed here)."""
    hasher = hashlib.sha256()
    size = 0
    try:
        with archive.open(member) as f:
            head = f.read(4)
            hasher.update(head)
            size = len(head)
            while chunk := f.read(1 << 20):
                hasher.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise PycontainError(f"{label}: layer {member} is missing") from None
    except (tarfile.TarError, OSError) as e:
        raise PycontainError(f"{label}: layer {member}: truncated archive ({e})") from None
    suffix = {"gzip": "+gzip", "zstd": "+zstd", "none": ""}[compression.sniff(head)]
    return {"mediaType": f"application/vnd.oci.image.layer.v1.tar{suffix}",
            "digest": "sha256:" + hasher.hexdigest(), "size": size}


# -- OCI archive ---------------------------------------------------------------
def _oci_name(annotations: dict, stem: str, name: str | None) -> str:
    if name:
        return _default_name(stem, name)
    full = annotations.get(CONTAINERD_NAME)
    if full:
        return reference.parse(full).full
    ref_name = annotations.get(mf.REF_NAME)
    if ref_name and (":" in ref_name or "/" in ref_name):
        try:
            ref = reference.parse(ref_name)
            if not ref.qualified:
                ref = reference.parse(f"localhost/{ref_name}")
            if ref.digest is None:
                return ref.full
        except PycontainError:
            pass
    tag = _tag_of(ref_name)
    return _default_name(stem, None, tag if tag and reference.is_valid_tag(tag)
                         else reference.DEFAULT_TAG)


def _load_oci(store, archive, label, stem, name) -> list:
    layout = ArchiveLayout(archive, label)
    if name:  # one image, chosen as `import oci:` chooses
        selected = [(None, layout.select())]
    else:
        selected = [(entry, layout.resolve(entry)) for entry in layout.entries]
    return [store.add_image(_oci_name(entry.annotations if entry else {}, stem, name),
                            sel.manifest_digest, sel.manifest_bytes, sel.manifest,
                            layout.read_blob, layout.open_blob)
            for entry, sel in selected]
