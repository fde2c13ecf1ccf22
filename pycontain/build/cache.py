"""The build cache: <store>/build-cache/<key hex>.json -> {"diff_id", "created"}.

A key chains a step's parent key with its normalised instruction and what
it depends on (chain()). An entry counts only while its layer is still in
the store (`image prune` removes layers no image uses; the entry is then a
miss). `pycontain builder prune` removes every entry."""
import hashlib
import json
import os

from pycontain import jsonio
from pycontain.fsutil import write_atomic


def chain(*parts) -> str:
    data = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


def cache_dir(store) -> str:
    return os.path.join(store.root, "build-cache")


def get(store, key: str):
    try:
        with open(os.path.join(cache_dir(store), key.partition(":")[2] + ".json"), "rb") as f:
            entry = jsonio.loads(f.read())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("diff_id"), str) \
            or not isinstance(entry.get("created"), int):
        return None
    if not os.path.isdir(store.layer_dir(entry["diff_id"])) or \
            not os.path.exists(store.blob_path(entry["diff_id"])):
        return None
    return entry


def put(store, key: str, entry: dict) -> None:
    from pycontain import paths
    paths.ensure_dir(cache_dir(store))
    write_atomic(os.path.join(cache_dir(store), key.partition(":")[2] + ".json"),
                 json.dumps(entry).encode(), 0o600)


def prune(store) -> int:
    """Remove every cache entry; how many there were."""
    directory = cache_dir(store)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return 0
    for name in names:
        os.unlink(os.path.join(directory, name))
    return len(names)
