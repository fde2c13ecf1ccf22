"""Removing images, and deleting the content that nothing uses any more.

What is kept: for every name in images.json its manifest, config, layer
blobs and unpacked layers; for every container (containers/<id>/
container.json) its image's config blob (field 'image_id') and the layer
directories it mounts (field 'lower'), so a container keeps working after
`rmi -f` of its image. Everything else in blobs/ and layers/ goes.
Collection holds the store lock and excludes running pulls (staging.py),
so it never deletes what a pull has fetched but not yet named.
"""
import json
import os

from pycontain.errors import PycontainError
from pycontain.fsutil import remove_tree
from pycontain.image import manifest as mf
from pycontain.image.staging import Exclusive


class Report:
    __slots__ = ("blobs", "layers", "bytes")

    def __init__(self):
        self.blobs = self.layers = self.bytes = 0


def containers(store) -> list:
    """The container.json records of the containers in store's root."""
    directory = os.path.join(store.root, "containers")
    found = []
    try:
        ids = sorted(os.listdir(directory))
    except FileNotFoundError:
        return found
    for cid in ids:
        try:
            with open(os.path.join(directory, cid, "container.json"), "rb") as f:
                meta = json.loads(f.read())
        except (OSError, ValueError):
            continue  # being created or removed
        if isinstance(meta, dict):
            found.append(dict(meta, id=cid))
    return found


def _manifest_layers(store, digest: str) -> list:
    try:
        with open(store.blob_path(digest), "rb") as f:
            doc = mf.load_json(f.read(), digest)
        return [layer.get("digest") for layer in doc.get("layers") or []
                if isinstance(layer, dict)]
    except (OSError, PycontainError):
        return []


def _live(store, data: dict) -> tuple[set, set]:
    blobs, layers = set(), set()
    for record in data["images"].values():
        blobs.update((record["manifest_digest"], record["config_digest"]))
        blobs.update(_manifest_layers(store, record["manifest_digest"]))
        for diff_id in record["diff_ids"]:
            layers.add(diff_id.partition(":")[2])
            blob = (data["layers"].get(diff_id) or {}).get("blob")
            if blob:
                blobs.add(blob)
    for meta in containers(store):
        if isinstance(meta.get("image_id"), str):
            blobs.add(meta["image_id"])
        for lower in meta.get("lower") or ():
            layers.add(os.path.basename(str(lower).rstrip("/")))
    return {b.partition(":")[2] for b in blobs if isinstance(b, str)}, layers


def _size(path: str) -> int:
    from pycontain.image._storeio import _tree_size
    if not os.path.isdir(path) or os.path.islink(path):
        return os.lstat(path).st_size
    return _tree_size(path)


def prune(store, wait: bool = True):
    """Delete unused blobs and layers; returns a Report, or None when
    wait=False and a pull is running (then nothing is deleted)."""
    report = Report()
    if not os.path.isdir(store.root):
        return report
    with Exclusive(store, nowait=not wait) as alone:
        if alone is None:
            return None
        with store._locked():
            data = store._load()
            keep_blobs, keep_layers = _live(store, data)
            for directory, keep, field in ((store.blobs_dir, keep_blobs, "blobs"),
                                           (store.layers_dir, keep_layers, "layers")):
                for name in os.listdir(directory):
                    if name in keep:
                        continue
                    path = os.path.join(directory, name)
                    report.bytes += _size(path)
                    remove_tree(path)
                    setattr(report, field, getattr(report, field) + 1)
            stale = [d for d in data["layers"] if d.partition(":")[2] not in keep_layers]
            if stale:
                for diff_id in stale:
                    del data["layers"][diff_id]
                store._save(data)
    return report


def _users(store, image_id: str) -> list:
    return [m.get("name") or m["id"][:12] for m in containers(store)
            if m.get("image_id") == image_id]


def remove_images(store, refs, force: bool) -> tuple:
    """`rmi`: untag each ref; refuse (unless force) to drop the last name of
    an image a container uses. Then collect what became unused (skipped
    while a pull runs: `image prune` finishes the job). Returns (lines to
    print, errors): one ref failing does not stop the others, as docker's."""
    lines, errors = [], []
    gone = False
    for ref in refs:
        try:
            removed, image_id, deleted = _remove_one(store, ref, force)
        except PycontainError as exc:
            errors.append(exc)
            continue
        lines += [f"Untagged: {key}" for key in removed]
        if deleted:
            lines.append(f"Deleted: {image_id}")
            gone = True
    if gone:
        prune(store, wait=False)
    return lines, errors


def _remove_one(store, ref: str, force: bool) -> tuple:
    """(names removed, image id, whether the image has no name left)."""
    images = store._load()["images"]
    name, record = store._lookup(images, ref)
    image_id = record["config_digest"]
    names = {k for k, r in images.items() if r["config_digest"] == image_id}
    last = name is None or names == {name}
    if last and not force:
        users = _users(store, image_id)
        if users:
            raise PycontainError(f"image {ref} is in use by container {users[0]}: "
                                 "remove the container first, or use rmi -f")
    removed = store.remove(ref)
    remaining = {k for k, r in store._load()["images"].items()
                 if r["config_digest"] == image_id}
    return removed, image_id, not remaining
