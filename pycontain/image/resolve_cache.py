"""A cache of resolved image references, so `pycontain run` skips JSON and regexes.

Resolving `busybox` the full way means parsing the reference (regexes) and
reading images.json and a config blob (json): ~7 ms of imports on every start.
Each resolution is remembered here, in marshal format, stamped with the
identity of images.json; any change to the store's index invalidates it all.
The file is replaced atomically, so concurrent writers only lose a cache entry.
"""
import marshal
import os

from pycontain.fsutil import write_atomic

CACHE_NAME = "resolve.cache"
_VERSION = 1


def _stamp(images_file: str):
    try:
        st = os.stat(images_file)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _read(root: str) -> dict:
    try:
        with open(os.path.join(root, CACHE_NAME), "rb") as f:
            data = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) and data.get("version") == _VERSION else {}


def get(root: str, images_file: str, ref: str):
    """The cached (name, id, manifest_digest, config, layer_dirs) for ref, or None."""
    data = _read(root)
    if not data or data.get("stamp") != _stamp(images_file):
        return None
    return data["entries"].get(ref)


def put(root: str, images_file: str, ref: str, entry: tuple) -> None:
    """Remember ref's resolution; best effort (a read-only store just stays uncached)."""
    stamp = _stamp(images_file)
    data = _read(root)
    if data.get("stamp") != stamp:
        data = {"version": _VERSION, "stamp": stamp, "entries": {}}
    data["entries"][ref] = entry
    try:
        write_atomic(os.path.join(root, CACHE_NAME), marshal.dumps(data), sync=False)  # 0600
    except OSError:
        pass
