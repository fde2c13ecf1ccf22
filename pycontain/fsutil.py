"""Small file-system helpers shared by the store and the runtime."""
import json
import os
import shutil


def write_atomic(path: str, data: bytes, mode: int = 0o600, sync: bool = True) -> None:
    """Write data to path so a crash leaves either the old or the new content."""
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def write_json(path: str, obj, sync: bool = True) -> None:
    write_atomic(path, json.dumps(obj, indent=1).encode(), sync=sync)


def read_json(path: str):
    with open(path, "rb") as f:
        return json.loads(f.read())


def remove_tree(path: str) -> None:
    """Remove a directory tree if it exists; missing parts are not an error."""
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        shutil.rmtree(path)
