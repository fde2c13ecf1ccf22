"""OCI and Docker schema2 manifests, indexes and descriptors.

Shared by every image source (OCI layouts now; registries and archives
later): it checks the JSON a source hands over, it does not fetch anything.
Digests are checked strictly (sha256 and 64 lower-case hex digits) because
they become file names in the store.
"""
import re

from pycontain import jsonio
from pycontain.errors import PycontainError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
)
REF_NAME = "org.opencontainers.image.ref.name"

MAX_MANIFEST_SIZE = 4 << 20
MAX_CONFIG_SIZE = 16 << 20

_DIGEST = re.compile(r"sha256:[a-f0-9]{64}\Z")


def check_digest(digest, what: str = "digest") -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise PycontainError(f"unsupported or malformed {what} {digest!r} "
                             "(expected sha256:<64 lower-case hex digits>)")
    return digest


def short_digest(digest: str) -> str:
    return digest.partition(":")[2][:12] or digest[:12]


def media_type_of(raw: dict, what: str) -> str:
    """raw's mediaType ('' when absent), refused unless a string."""
    mt = raw.get("mediaType")
    if mt is None:
        return ""
    if not isinstance(mt, str):
        raise PycontainError(f"malformed {what}: mediaType {mt!r:.80} is not a string")
    return mt


class Descriptor:
    __slots__ = ("media_type", "digest", "size", "annotations", "platform")

    def __init__(self, raw, what: str = "descriptor"):
        if not isinstance(raw, dict):
            raise PycontainError(f"malformed {what}: not a JSON object")
        self.digest = check_digest(raw.get("digest"), f"{what} digest")
        what = f"{what} {self.digest}"
        self.media_type = media_type_of(raw, what)
        size = raw.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise PycontainError(f"malformed {what}: bad size {size!r:.80}")
        self.size = size
        self.annotations = raw.get("annotations")
        if self.annotations is None:
            self.annotations = {}
        elif not isinstance(self.annotations, dict) or not all(
                isinstance(v, str) for v in self.annotations.values()):
            raise PycontainError(f"malformed {what}: annotations is not an object of strings")
        self.platform = raw.get("platform")
        if self.platform is None:
            self.platform = {}
        elif not isinstance(self.platform, dict):
            raise PycontainError(f"malformed {what}: platform is not an object")

    def __repr__(self):
        return f"Descriptor({self.media_type!r}, {self.digest!r}, {self.size})"


def load_json(data: bytes, what: str) -> dict:
    doc = jsonio.parse(data, what)
    if not isinstance(doc, dict):
        raise PycontainError(f"{what} is not a JSON object")
    return doc


def kind_of(doc: dict, media_type: str = "") -> str:
    """'index' or 'manifest' from the media type, or from the shape."""
    mt = media_type_of(doc, "manifest") or media_type
    if mt in INDEX_TYPES:
        return "index"
    if mt in MANIFEST_TYPES:
        return "manifest"
    if not mt and "manifests" in doc:
        return "index"
    if not mt and "layers" in doc and "config" in doc:
        return "manifest"
    raise PycontainError(f"unsupported manifest media type {mt!r}")


def index_entries(doc: dict) -> list:
    entries = doc.get("manifests")
    if not isinstance(entries, list):
        raise PycontainError("malformed image index: 'manifests' is not a list")
    return [Descriptor(e, "index entry") for e in entries]


def choose_platform(entries: list, os_name: str = "linux", arch: str = "amd64",
                    variant: str | None = None) -> Descriptor:
    """The entry for os/arch[/variant] (an entry without platform counts as
    a match only when nothing else matches)."""
    exact = [d for d in entries
             if d.platform.get("os") == os_name and d.platform.get("architecture") == arch
             and (variant is None or d.platform.get("variant") == variant)]
    if exact:
        return exact[0]
    bare = [d for d in entries if not d.platform]
    if bare:
        return bare[0]
    found = ", ".join(f"{d.platform.get('os')}/{d.platform.get('architecture')}"
                      for d in entries) or "none"
    wanted = f"{os_name}/{arch}" + (f"/{variant}" if variant else "")
    raise PycontainError(f"no image for {wanted} in the image index (found: {found})")


class Manifest:
    """A single-platform image manifest: its config and layer descriptors."""

    __slots__ = ("media_type", "config", "layers")

    def __init__(self, doc: dict, media_type: str = ""):
        self.media_type = media_type_of(doc, "manifest") or media_type or OCI_MANIFEST
        if doc.get("schemaVersion") != 2:
            raise PycontainError(
                f"unsupported manifest schemaVersion {doc.get('schemaVersion')!r}")
        self.config = Descriptor(doc.get("config"), "config descriptor")
        if self.config.media_type and self.config.media_type not in CONFIG_TYPES:
            raise PycontainError(f"unsupported image config media type {self.config.media_type!r}")
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise PycontainError("malformed manifest: 'layers' is not a list")
        self.layers = [Descriptor(d, "layer descriptor") for d in layers]
        for d in self.layers:
            if d.media_type not in LAYER_TYPES:
                raise PycontainError(
                    f"layer {short_digest(d.digest)}: unsupported media type {d.media_type!r}")


def diff_ids(config: dict) -> list:
    """The config's rootfs.diff_ids, checked."""
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise PycontainError("malformed image config: rootfs.type is not 'layers'")
    ids = rootfs.get("diff_ids")
    if not isinstance(ids, list):
        raise PycontainError("malformed image config: rootfs.diff_ids is not a list")
    return [check_digest(d, "layer diff_id") for d in ids]
