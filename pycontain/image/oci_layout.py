"""Read an OCI image layout directory (oci-layout, index.json, blobs/).

OCILayout.select() picks one image's manifest: by the
'org.opencontainers.image.ref.name' annotation (a bare tag such as 'latest',
or a full reference ending in ':TAG'), by default the only image or the one
tagged 'latest', following nested image indexes to the linux/amd64 entry.
Manifests, indexes and configs are read verified (sha256 and size); layer
blobs are opened raw and verified by the store while it copies them.
"""
import hashlib
import os

from pycontain.errors import PycontainError
from pycontain.image import manifest as mf
from pycontain.record import Record

MAX_INDEX_DEPTH = 4


class Selection(Record):
    """The image chosen in a layout: its tag and verified manifest."""

    FIELDS = {"tag": None, "manifest_digest": "", "manifest_bytes": b"", "manifest": None}
    __slots__ = tuple(FIELDS)


def _tag_of(ref_name: str | None) -> str | None:
    """'latest' from 'latest' or 'docker.io/library/busybox:latest'."""
    if not ref_name:
        return None
    head, colon, tail = ref_name.rpartition(":")
    if colon and "/" not in tail and (head or "/" in ref_name):
        return tail
    return ref_name


class OCILayout:
    """A layout directory; subclasses read the same files from elsewhere
    (an archive) by overriding _open()."""

    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)
        if not os.path.isdir(self.directory):
            raise PycontainError(f"OCI layout {directory}: no such directory")
        self._load_index(directory)

    def _open(self, relpath: str):
        """The layout file relpath, opened for binary reading."""
        return open(os.path.join(self.directory, relpath), "rb")

    def _load_index(self, directory: str) -> None:
        marker = self._read_json("oci-layout")
        if not isinstance(marker.get("imageLayoutVersion"), str):
            raise PycontainError(f"OCI layout {directory}: oci-layout has no imageLayoutVersion")
        self.index = self._read_json("index.json")
        try:
            self.entries = mf.index_entries(self.index)
        except PycontainError as e:
            raise PycontainError(f"OCI layout {directory}: index.json: {e}") from None
        if not self.entries:
            raise PycontainError(f"OCI layout {directory}: index.json lists no images")

    def _read_json(self, name: str) -> dict:
        path = os.path.join(self.directory, name)
        try:
            with self._open(name) as f:
                data = f.read(mf.MAX_MANIFEST_SIZE + 1)
        except FileNotFoundError:
            raise PycontainError(f"not an OCI layout: {path} is missing") from None
        except OSError as e:
            raise PycontainError(f"cannot read {path}: {e.strerror}") from None
        if len(data) > mf.MAX_MANIFEST_SIZE:
            raise PycontainError(f"{path} is too large")
        return mf.load_json(data, path)

    def tags(self) -> list:
        return [t for t in (_tag_of(e.annotations.get(mf.REF_NAME)) for e in self.entries) if t]

    @staticmethod
    def blob_relpath(digest: str) -> str:
        algorithm, _, hexpart = mf.check_digest(digest).partition(":")
        return f"blobs/{algorithm}/{hexpart}"

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.directory, self.blob_relpath(digest))

    def open_blob(self, desc: "mf.Descriptor"):
        """The raw blob as a binary file (unverified: the caller verifies)."""
        try:
            return self._open(self.blob_relpath(desc.digest))
        except FileNotFoundError:
            raise PycontainError(f"OCI layout {self.directory}: blob {desc.digest} "
                                 "is missing") from None
        except OSError as e:
            raise PycontainError(f"OCI layout {self.directory}: blob {desc.digest}: "
                                 f"{e.strerror}") from None

    def read_blob(self, desc: "mf.Descriptor", limit: int) -> bytes:
        """A small blob (manifest, index, config), checked against desc."""
        if desc.size > limit:
            raise PycontainError(f"blob {desc.digest} is too large ({desc.size} bytes)")
        with self.open_blob(desc) as f:
            data = f.read(desc.size + 1)
        if len(data) != desc.size or "sha256:" + hashlib.sha256(data).hexdigest() != desc.digest:
            raise PycontainError(f"OCI layout {self.directory}: blob {desc.digest} is corrupt "
                                 "(size or sha256 does not match)")
        return data

    def select(self, tag: str | None = None) -> Selection:
        if tag is not None:
            chosen = [e for e in self.entries
                      if _tag_of(e.annotations.get(mf.REF_NAME)) == tag]
            if not chosen:
                raise PycontainError(f"OCI layout {self.directory}: no image tagged {tag!r} "
                                     f"(tags: {', '.join(self.tags()) or 'none'})")
        elif len(self.entries) == 1:
            chosen = self.entries
        else:
            chosen = [e for e in self.entries
                      if _tag_of(e.annotations.get(mf.REF_NAME)) == "latest"]
            if not chosen:
                raise PycontainError(
                    f"OCI layout {self.directory} holds several images and none is tagged "
                    f"'latest': choose one (tags: {', '.join(self.tags()) or 'none'})")
        desc = chosen[0] if len(chosen) == 1 else mf.choose_platform(chosen)
        return self.resolve(desc, tag or _tag_of(desc.annotations.get(mf.REF_NAME)))

    def resolve(self, desc: "mf.Descriptor", found_tag: str | None = None) -> Selection:
        """The image manifest desc names, following indexes to linux/amd64."""
        for _ in range(MAX_INDEX_DEPTH):
            data = self.read_blob(desc, mf.MAX_MANIFEST_SIZE)
            doc = mf.load_json(data, f"manifest {desc.digest}")
            if mf.kind_of(doc, desc.media_type) == "index":
                desc = mf.choose_platform(mf.index_entries(doc))
                continue
            return Selection(tag=found_tag, manifest_digest=desc.digest, manifest_bytes=data,
                             manifest=mf.Manifest(doc, desc.media_type))
        raise PycontainError(f"OCI layout {self.directory}: image indexes nested too deeply")
