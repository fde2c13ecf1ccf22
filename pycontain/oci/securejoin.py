"""Resolve a path inside a root directory as the container would see it.

Symlinks met on the way are followed as if `root` were `/`, so an image whose
/dev or /proc is a symlink to `/` or `../../..` can never steer a mount or a
file we create to a place outside the root (CVE-2019-19921 family).
"""
import os
import stat

MAX_SYMLINKS = 40


def secure_join(root: str, path: str) -> str:
    """Return root + path with every symlink resolved under root."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise OSError(40, "too many levels of symbolic links", path)
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return os.path.join(root, *resolved)
