"""The build as a whole: read the Dockerfile and ignore file, run the
builder in a work area of the store, and name the result.

The image's config is written with sorted keys and no blanks and its
manifest lists each layer's blob as the store holds it, so equal inputs
(with SOURCE_DATE_EPOCH and --rewrite-timestamp) give equal digests.
"""
import hashlib
import json
import os

from pycontain.build.parser import MAX_SIZE, DockerfileError, parse
from pycontain.errors import PycontainError
from pycontain.fsutil import TooLarge, read_capped

_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
_TAR = "application/vnd.oci.image.layer.v1.tar"


def read_dockerfile(opts) -> tuple:
    path = opts.dockerfile or os.path.join(opts.context, "Dockerfile")
    if not os.path.isdir(opts.context):
        raise PycontainError(f"build context {opts.context} is not a directory")
    try:
        data = read_capped(path, MAX_SIZE)
    except TooLarge:
        raise DockerfileError(os.path.basename(path), 0, f"larger than {MAX_SIZE} bytes") \
            from None
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise DockerfileError(os.path.basename(path), 0, "not UTF-8 text") from None
    return path, parse(text, os.path.basename(path))


def _media_type(store, blob: str) -> str:
    with open(store.blob_path(blob), "rb") as f:
        head = f.read(4)
    if head.startswith(_GZIP):
        return _TAR + "+gzip"
    return _TAR + "+zstd" if head == _ZSTD else _TAR


def commit(store, state, opts, names: list):
    """Store the final image under each of names; the Image."""
    from pycontain.image import manifest as mf
    from pycontain.build.builder import _iso
    import time
    created = opts.epoch if opts.epoch is not None else state.last_created or int(time.time())
    layers_known = store._load()["layers"]
    cfg = {k: v for k, v in state.cfg.items() if v not in (None, [], {}) or k == "Env"}
    image = dict(state.image, config=cfg, created=_iso(created), history=state.history,
                 rootfs={"type": "layers", "diff_ids": state.diff_ids})
    image.setdefault("architecture", "amd64")
    image.setdefault("os", "linux")
    config = json.dumps(image, sort_keys=True, separators=(",", ":")).encode()
    layers = []
    for diff_id in state.diff_ids:
        blob = (layers_known.get(diff_id) or {}).get("blob") or diff_id
        layers.append({"mediaType": _media_type(store, blob), "digest": blob,
                       "size": os.path.getsize(store.blob_path(blob))})
    doc = {"schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
           "config": {"mediaType": mf.OCI_CONFIG, "size": len(config),
                      "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
           "layers": layers}
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    result = None
    for name in names:
        result = store.add_image(name, digest, data, mf.Manifest(doc),
                                 lambda desc, limit: config,
                                 lambda desc: open(store.blob_path(desc.digest), "rb"))
    return result


def build(store, opts, out):
    """Run the build; the stored Image."""
    from pycontain.build import ignore
    from pycontain.build.builder import Builder
    from pycontain.build.context import ContextTree
    from pycontain.image import reference
    from pycontain.image.staging import PullArea

    names = [reference.parse(t).full for t in opts.tags]  # bad names fail before any work
    path, dockerfile = read_dockerfile(opts)
    builder = Builder(store, opts, dockerfile, out)
    builder.context = ContextTree(opts.context, ignore.load(opts.context, path))
    with PullArea(store) as area:
        state = builder.build(area.dir)
        if not names:
            from pycontain.build import cache
            names = [f"localhost/pycontain-build:{cache.chain(state.key)[7:19]}"]
        return commit(store, state, opts, names)
