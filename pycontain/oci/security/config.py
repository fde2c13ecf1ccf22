"""The security parts of a container's OCI spec, from run options.

Defaults match docker: 14 capabilities, the default seccomp profile, masked
and read-only /proc and /sys paths, a minimal /dev and runc's device cgroup
rules (linux.resources.devices: the cgroup provider enforces them). `--device`
adds a host device; `--privileged` lifts them all (every capability, no
seccomp, no masks, /sys writable, the host's devices, every device allowed).
Rootless runs get their user namespace from pycontain.oci.userns.
"""
import os
import stat

from pycontain.errors import PycontainError
from pycontain.oci.defaults import default_device_rules, device_rule
from pycontain.oci.security import caps, seccomp

SECURITY_OPTS = "seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false]"
SKIP_HOST_DEVICES = ("/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/fd", "/dev/console")
DEVICE_FORMAT = "HOST[:CONTAINER][:PERMISSIONS], e.g. /dev/kvm or /dev/sdb:/dev/xvdb:r"


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
            found.append(_device_entry(path, st))
    return found


def _device_entry(path: str, st) -> dict:
    return {"path": path, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
            "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}


def parse_device(text: str) -> list:
    """docker's --device HOST[:CONTAINER][:PERMISSIONS] -> OCI linux.devices
    entries (a directory: every device below it), each with the host node to
    bind (hostPath) and the access its cgroup rule allows (access)."""
    parts = text.split(":")
    if len(parts) == 2 and parts[1] and not parts[1].startswith("/"):
        parts = [parts[0], "", parts[1]]  # HOST:PERMISSIONS
    if not 1 <= len(parts) <= 3 or not parts[0].startswith("/"):
        raise PycontainError(f"invalid --device {text!r}: want {DEVICE_FORMAT}")
    host = parts[0]
    inside = os.path.normpath(parts[1] if len(parts) > 1 and parts[1] else host)
    access = parts[2] if len(parts) == 3 else "rwm"
    if not access or set(access) - set("rwm") or len(set(access)) != len(access):
        raise PycontainError(f"invalid --device permissions {access!r} in {text!r}: "
                             "use a combination of r, w and m")
    try:
        st = os.stat(host)
    except OSError as exc:
        raise PycontainError(f"--device {host}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode) and os.path.realpath(host).startswith("/dev/"):
        found = [dict(d, hostPath=d["path"], path=inside + d["path"][len(host.rstrip("/")):])
                 for d in host_devices(host)]
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        found = [dict(_device_entry(inside, st), hostPath=host)]
    else:
        raise PycontainError(f"--device {host} is not a device (nor a directory under /dev)")
    if not inside.startswith("/dev/") or any(
            inside == top or inside.startswith(top + "/") for top in SKIP_HOST_DEVICES):
        raise PycontainError(f"invalid --device {text!r}: the container path must be "
                             "under /dev (and not in /dev/pts, /dev/shm or /dev/mqueue)")
    return [dict(d, access=access) for d in found]


def _devices(spec: dict, opts) -> None:
    """The spec's device nodes and device cgroup rules."""
    linux = spec["linux"]
    added = [d for text in getattr(opts, "devices", ()) for d in parse_device(text)]
    rules = [device_rule(True)] if opts.privileged else default_device_rules()
    rules += [device_rule(True, d["type"], d["major"], d["minor"], d.pop("access"))
              for d in added]
    known = {d["path"] for d in added}
    linux["devices"] = [d for d in linux["devices"] if d["path"] not in known] + added
    linux.setdefault("resources", {})["devices"] = rules


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
    _devices(spec, opts)
    if os.geteuid() != 0:
        from pycontain.oci import userns
        if opts.network not in ("none", "host") or getattr(opts, "publish", None):
            raise PycontainError("a rootless container can use --network none or host only "
                                 "(bridges and published ports need root)")
        userns.make_rootless(spec)
    return spec
