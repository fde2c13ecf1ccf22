"""`system df` (what the store holds) and `system prune` (what can go)."""
import os
import stat

from pycontain import paths
from pycontain.engine import state
from pycontain.engine.orphans import listed


def tree_size(path: str) -> int:
    """Bytes in the files under path (a stack, not recursion; links not followed)."""
    total, stack = 0, [path]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(entry.path)
            else:
                total += st.st_blocks * 512 if stat.S_ISREG(st.st_mode) else 0
    return total


def disk_usage() -> list:
    """Rows of `system df`: (type, total, active, size, reclaimable)."""
    from pycontain.image.store import ImageStore

    store = ImageStore(paths.data_root())
    data = store._load()
    containers = listed()
    used_ids = {c.meta.get("image_id") for c in containers}
    layer_size = {d: r.get("size", 0) for d, r in data["layers"].items()}
    by_id = {}
    for record in data["images"].values():
        by_id[record["config_digest"]] = record["diff_ids"]
    active_layers = {d for cid, diffs in by_id.items() if cid in used_ids for d in diffs}
    all_layers = {d for diffs in by_id.values() for d in diffs}
    images_size = sum(layer_size.get(d, 0) for d in all_layers)
    reclaim = sum(layer_size.get(d, 0) for d in all_layers - active_layers)
    running = [c for c in containers if c.status in (state.RUNNING, state.PAUSED)]
    sizes = {c.id: tree_size(c.path("upper")) for c in containers}
    return [
        ("Images", len(by_id), len(used_ids & set(by_id)), images_size, reclaim),
        ("Containers", len(containers), len(running), sum(sizes.values()),
         sum(sizes[c.id] for c in containers if c not in running)),
        volume_usage(),
        ("Build Cache", 0, 0, 0, 0),
    ]


def prune_containers() -> tuple:
    """Remove every stopped container: (their ids, bytes freed)."""
    from pycontain.engine.container import remove

    removed, freed = [], 0
    for ctr in listed():
        if ctr.status in (state.EXITED, state.CREATED) and not ctr.alive():
            freed += tree_size(ctr.path("upper"))
            remove(ctr)
            removed.append(ctr.id)
    return removed, freed


def volume_usage() -> tuple:
    """The "Local Volumes" row: reclaimable, the volumes no container uses."""
    from pycontain.engine import volumes

    used = volumes.users()
    sizes = {name: volumes.size(name) for name in volumes.names()}
    return ("Local Volumes", len(sizes), len(set(sizes) & set(used)), sum(sizes.values()),
            sum(size for name, size in sizes.items() if name not in used))


def prune(all_images: bool, volumes: bool = False) -> dict:
    """Remove stopped containers, then (all_images) every image no container
    uses, then the content nothing uses, then (volumes) the anonymous volumes
    no container uses. What went, and the bytes freed."""
    from pycontain.image.gc import prune as prune_store, remove_images
    from pycontain.image.store import ImageStore

    removed, freed = prune_containers()
    report = {"containers": removed, "images": [], "volumes": [], "bytes": freed}
    if volumes:
        from pycontain.engine.volumes import prune as prune_volumes
        report["volumes"], volume_bytes = prune_volumes()
        report["bytes"] += volume_bytes
    store = ImageStore(paths.data_root())
    before = _content_size(store)
    if all_images:
        used = {c.meta.get("image_id") for c in listed()}
        unused = [summary.id for summary in store.list() if summary.id not in used]
        # one that a container started using meanwhile is refused, and stays
        report["images"], _ = remove_images(store, unused, False)
    prune_store(store)
    report["bytes"] += max(0, before - _content_size(store))
    return report


def _content_size(store) -> int:
    return sum(tree_size(os.path.join(store.root, d)) for d in ("blobs", "layers"))
