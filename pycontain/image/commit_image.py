"""A new image from an image plus one more layer (`pycontain commit`).

The layer is written as an uncompressed tar in a pull work area (so its
blob digest is its diff_id); the new config is the base one with that
diff_id and a history entry appended; the manifest is an OCI one listing the
base layers (blobs already in the store) and the new one. It goes through
store.add_image like every other image, whose unpacker turns the layer's
`.wh.` whiteouts back into overlay ones.
"""
import hashlib
import json
import os
import time

from pycontain import paths
from pycontain.errors import PycontainError
from pycontain.image import manifest as mf, reference
from pycontain.image.rootfs_import import _hash_file
from pycontain.image.staging import PullArea
from pycontain.image.store import ImageStore

LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"


def _compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def add_layer_image(base_id: str, base_name: str, name: str, write_layer, created_by: str,
                    comment: str = "", author: str = ""):
    """Store base_id's image plus the layer write_layer(binary stream) writes,
    named name; the new Image."""
    ref = reference.parse(name)
    if ref.digest is not None:
        raise PycontainError(f"a committed image cannot be named by a digest: {name}")
    store = ImageStore(paths.data_root())
    try:
        base = store.resolve(base_id)
    except PycontainError:
        raise PycontainError(f"the image of the container ({base_name}) is no longer in the "
                             "store") from None
    with open(store.blob_path(base.manifest_digest), "rb") as f:
        base_doc = json.loads(f.read())
    with PullArea(store) as area:
        layer = os.path.join(area.dir, "layer.tar")
        with open(layer, "wb") as out:
            write_layer(out)
        diff_id = _hash_file(layer)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        config = dict(base.config, created=now)
        config["rootfs"] = {"type": "layers",
                            "diff_ids": list(base.config["rootfs"]["diff_ids"]) + [diff_id]}
        entry = {"created": now, "created_by": created_by}
        if comment:
            entry["comment"] = comment
        if author:
            entry["author"] = config["author"] = author
        config["history"] = list(base.config.get("history") or []) + [entry]
        config_bytes = _compact(config)
        config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        doc = {"schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
               "config": {"mediaType": mf.OCI_CONFIG, "size": len(config_bytes),
                          "digest": config_digest},
               "layers": list(base_doc["layers"]) + [
                   {"mediaType": LAYER_TYPE, "digest": diff_id,
                    "size": os.path.getsize(layer)}]}
        data = _compact(doc)

        def open_blob(desc):
            return open(layer if desc.digest == diff_id else store.blob_path(desc.digest), "rb")
        return store.add_image(ref.full, "sha256:" + hashlib.sha256(data).hexdigest(), data,
                               mf.Manifest(doc), lambda desc, limit: config_bytes, open_blob)
