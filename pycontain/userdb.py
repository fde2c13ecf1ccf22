"""Resolve `--user` against the image's /etc/passwd and /etc/group.

The files are read from the topmost image layer that has them, without
following symlinks, so a hostile image cannot make the engine read host files.
"""
import os
import stat

from pycontain.errors import PycontainError


def _read_layer_file(layer_dirs: list, relpath: str) -> list:
    """Lines of relpath from the topmost layer holding it as a regular file."""
    for layer in reversed(layer_dirs):
        path = os.path.join(layer, relpath)
        try:
            st = os.lstat(path)
            parent = os.lstat(os.path.dirname(path))
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(parent.st_mode) or not stat.S_ISREG(st.st_mode):
            return []  # a symlink, or a whiteout: the file is not usable
        with open(path, "r", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip()]
    return []


def _find(entries: list, key: str, width: int):
    for fields in entries:
        if len(fields) >= width and (fields[0] == key or fields[2] == key):
            return fields
    return None


MAX_ID = 2**31 - 1


def _numeric_id(text: str, what: str) -> int:
    value = int(text)
    if value > MAX_ID:
        raise PycontainError(f"{what} {text} is out of range: uids and gids must be in "
                             f"0-{MAX_ID}")
    return value


def resolve_user(spec_user: str, layer_dirs: list) -> dict:
    """Turn `NAME|UID[:GROUP|GID]` into {uid, gid, additionalGids, home}."""
    user, _, group = (spec_user or "0").partition(":")
    passwd = _read_layer_file(layer_dirs, "etc/passwd")
    entry = _find(passwd, user, 7)
    if entry:
        uid, gid, home, name = int(entry[2]), int(entry[3]), entry[5], entry[0]
    elif user.isdigit():
        uid, gid, home, name = _numeric_id(user, "user"), 0, "/", None
    else:
        raise PycontainError(f"unable to find user {user}: no matching entries in passwd file")
    groups = _read_layer_file(layer_dirs, "etc/group")
    if group:
        gentry = _find(groups, group, 3)
        if gentry:
            gid = int(gentry[2])
        elif group.isdigit():
            gid = _numeric_id(group, "group")
        else:
            raise PycontainError(f"unable to find group {group}: no matching entries in group file")
    extra = sorted({int(g[2]) for g in groups
                    if len(g) >= 4 and name and name in g[3].split(",") and int(g[2]) != gid})
    return {"uid": uid, "gid": gid, "additionalGids": extra, "home": home}
