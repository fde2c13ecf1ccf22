"""What this host offers: probes behind `pycontain info`.

Each probe that needs a namespace runs in a forked child, so the engine
itself never changes namespace; a temporary directory is removed after.
"""
import os
import tempfile

from pycontain import native as n


def _in_child(body) -> bool:
    """Run body() in a forked child; True if it returned without raising."""
    pid = os.fork()
    if pid == 0:
        try:
            body()
            os._exit(0)
        except BaseException:  # noqa: BLE001 - forked child
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def _enter_userns() -> None:
    uid, gid = os.geteuid(), os.getegid()
    n.unshare(n.CLONE_NEWUSER | n.CLONE_NEWNS)
    for name, text in (("uid_map", f"0 {uid} 1"), ("setgroups", "deny"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def user_namespaces() -> bool:
    """Can this user create a user namespace (and map itself to root in it)?"""
    return _in_child(_enter_userns)


def overlay_in_userns() -> bool:
    """Can an overlay (with userxattr) be mounted inside a user namespace?"""
    with tempfile.TemporaryDirectory(prefix="pycontain-probe-") as tmp:
        dirs = [os.path.join(tmp, d) for d in ("lower", "upper", "work", "merged")]
        for d in dirs:
            os.mkdir(d)

        def body():
            _enter_userns()
            n.mount("overlay", dirs[3], "overlay", 0,
                    f"lowerdir={dirs[0]},upperdir={dirs[1]},workdir={dirs[2]},userxattr")
        ok = _in_child(body)
        for d in dirs[2:3]:  # overlay's work/work is mode 0: let rmtree in
            for root, subdirs, _ in os.walk(d):
                for sub in subdirs:
                    os.chmod(os.path.join(root, sub), 0o700)
        return ok


def seccomp_status() -> dict:
    """Kernel support (the Seccomp field) and the libseccomp version."""
    with open("/proc/self/status") as f:
        kernel = any(line.startswith("Seccomp:") for line in f)
    try:
        from pycontain._seccomp import lib
        v = lib.seccomp_version()
        library = f"{v.major}.{v.minor}.{v.micro}"
    except ImportError:
        library = None
    return {"kernel": kernel, "libseccomp": library}


def newidmap() -> bool:
    from pycontain.oci.userns import NEWGIDMAP, NEWUIDMAP
    return os.access(NEWUIDMAP, os.X_OK) and os.access(NEWGIDMAP, os.X_OK)
