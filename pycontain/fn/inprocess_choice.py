"""When `fn exec` may run the handler in the engine's own interpreter (see
fn.inprocess): the pycontain command emptied the caller's environment, and the
image's python3 is this very interpreter."""
import os
import stat
import sys

from pycontain.fn.jail import mount_points


# the variables the pycontain command (csrc/launcher.c, bin/pycontain) lets
# through to `fn exec` and `fn invoke`
KEPT_VARIABLES = ("HOME", "PATH", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "PYCONTAIN_ROOT",
                  "PYCONTAIN_RUNROOT", "PYCONTAIN_CGROUP_PARENT", "PYCONTAIN_FN_FORK")


def usable(layer_dirs: list, path: str) -> bool:
    """Whether a call may run in this process: not turned off (PYCONTAIN_FN_FORK=0),
    the caller's environment emptied (the pycontain command does it) and the image's
    python3 (on the jail's PATH) is this interpreter."""
    return (os.environ.get("PYCONTAIN_FN_FORK") != "0"
            and set(os.environ) <= {*KEPT_VARIABLES, "LC_CTYPE"}  # python's locale coercion
            and serves(layer_dirs, path))


def serves(layer_dirs: list, path: str) -> bool:
    """Whether `python3` on PATH in the image is this interpreter: a one-layer
    image (so no other layer can shadow or hide a file) whose python3 is the
    same file (size and mtime, which layers keep) at the same path. And the
    interpreter must be root's and writable by no one else: the handler may
    open it through /proc/self/exe, and must not be able to chmod it."""
    exe = os.path.realpath(sys.executable)
    ours = os.stat(exe)
    if len(layer_dirs) != 1 or ours.st_uid != 0 or ours.st_mode & 0o022:
        return False
    layer, mounts = layer_dirs[0], mount_points()
    for directory in path.split(":"):
        if not directory.startswith("/"):
            return False  # the working directory, /var/task, is not the image's
        try:
            found = _resolve_in(layer, f"{directory}/python3", mounts)
        except _Mounted:
            return False  # what the jail mounts there (the code, /tmp...) decides
        if found is not None:
            theirs = os.stat(found)
            return (found == os.path.join(layer, exe.lstrip("/"))
                    and theirs.st_size == ours.st_size
                    and int(theirs.st_mtime) == int(ours.st_mtime))
    return False


class _Mounted(Exception):
    """A path leads into something the jail mounts over the image."""


def _under(path: str, mounts: tuple) -> bool:
    return any(path == m or path.startswith(m + "/") for m in mounts)


def _resolve_in(root: str, path: str, mounts: tuple, links: int = 0):
    """The regular file path names with root as /, symlinks followed inside
    root; None if there is none; _Mounted if a step is at or under a mount."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    current = root
    for i, part in enumerate(parts):
        if part == "..":
            current = current if current == root else os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        inside = candidate[len(root):]
        if _under(inside, mounts):
            raise _Mounted(inside)
        try:
            st = os.lstat(candidate)
        except OSError:  # not in the image: but the jail may make it a mount point
            whole = "/".join([inside, *parts[i + 1:]])
            if _under(whole, mounts):
                raise _Mounted(whole) from None
            return None
        if stat.S_ISLNK(st.st_mode):
            if links >= 40:
                return None
            target = os.readlink(candidate)
            base = "" if target.startswith("/") else current[len(root):]
            rest = "/".join([target, *parts[i + 1:]])
            return _resolve_in(root, f"{base}/{rest}", mounts, links + 1)
        current = candidate
    return current if stat.S_ISREG(os.stat(current).st_mode) else None
