"""The security parts of a container's OCI spec, from run options.

Defaults match docker: 14 capabilities, the default seccomp profile, masked
and read-only /proc and /sys paths, a minimal /dev. `--privileged` lifts
them all (every capability, no seccomp, no masks, /sys writable, the host's
devices). Rootless runs get their user namespace from pycontain.runtime.userns.
"""
import os
import stat

from pycontain.errors import PycontainError
from pycontain.runtime.security import caps, seccomp

SECURITY_OPTS = "seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false]"
SKIP_HOST_DEVICES = ("/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/fd", "/dev/console")


def parse_security_opts(values) -> dict:
    """docker's --security-opt values -> {"seccomp": source|None, "nnp": bool}."""
    result = {"seccomp": "default", "nnp": False}
    for value in values:
        key, sep, arg = value.partition("=")
        if not sep:
            key, sep, arg = value.partition(":")
        if key == "no-new-privileges" and arg in ("", "true", "false"):
            result["nnp"] = arg != "false"
        elif key == "seccomp" and arg:
            result["seccomp"] = None if arg == "unconfined" else arg
        else:
            raise PycontainError(f"invalid --security-opt {value!r}: use {SECURITY_OPTS}")
    return result


def host_devices(top: str = "/dev") -> list:
    """Every character and block device under /dev, as OCI devices (--privileged)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in SKIP_HOST_DEVICES]
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if path in SKIP_HOST_DEVICES or not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                continue
            found.append({"path": path, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                          "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                          "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
    return found


def _privileged(spec: dict) -> None:
    linux = spec["linux"]
    linux["maskedPaths"], linux["readonlyPaths"] = [], []
    linux["devices"] = host_devices()
    for mount in spec["mounts"]:
        if mount["type"] == "sysfs":
            mount["options"] = [o for o in mount["options"] if o != "ro"] + ["rw"]
        if mount["destination"] == "/dev":  # device nodes work again, as with docker
            mount["options"] = [o for o in mount["options"] if o != "nodev"]


def apply(spec: dict, opts) -> dict:
    """Add capabilities, no_new_privs, seccomp (and privileged or rootless
    changes) to spec according to opts; returns spec."""
    security = parse_security_opts(opts.security_opt)
    granted = caps.resolve(opts.cap_add, opts.cap_drop, opts.privileged)
    process = spec["process"]
    process["capabilities"] = caps.process_sets(granted, process["user"].get("uid", 0))
    process["noNewPrivileges"] = security["nnp"]
    if opts.privileged:
        _privileged(spec)
    elif security["seccomp"]:
        spec["linux"]["seccomp"] = seccomp.resolve(security["seccomp"], granted)
    if os.geteuid() != 0:
        from pycontain.runtime import userns
        if opts.network not in ("none", "host") or getattr(opts, "publish", None):
            raise PycontainError("a rootless container can use --network none or host only "
                                 "(bridges and published ports need root)")
        userns.make_rootless(spec)
    return spec
