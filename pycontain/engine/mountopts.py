"""What `run` mounts besides the image: -v, --mount, --tmpfs, the image's
Volumes, --shm-size, and the --sysctl settings, as docker reads them.

plan() parses and checks everything (no side effect: bad input leaves
nothing behind) into a Plan: OCI mount entries, the volumes they need
(named, or anonymous with a random name) and the sysctls; Plan.apply puts
them in a built spec. Volumes themselves are made by engine.volumes.
"""
import os

from pycontain.engine import volumes
from pycontain.errors import PycontainError
from pycontain.oci.defaults import reserved_destination

MAX_MOUNTS = 256  # user mounts per container, image volumes included
MAX_TEXT = 8192  # characters in one flag's value
DEVICE_OPTIONS = ("dev", "nodev")
MODE_OPTIONS = ("ro", "rw")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
IGNORED = ("z", "Z")  # SELinux relabelling: nothing to do without SELinux, as docker
TMPFS_FLAGS = ("ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "strictatime")
TMPFS_DEFAULTS = ["nosuid", "nodev", "noexec"]  # docker's, before the user's options
TMPFS_VALUES = ("size", "mode", "uid", "gid", "nr_inodes")
IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
               "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def destination(path: str, what: str) -> str:
    """An absolute, normalised container path a mount may take."""
    if not path.startswith("/"):
        raise PycontainError(f"invalid {what}: the destination {path[:200]!r} must be an "
                             "absolute path")
    path = "/" + os.path.normpath(path).lstrip("/")  # POSIX keeps a leading "//"
    if path == "/":
        raise PycontainError(f"invalid {what}: the destination cannot be '/'")
    if reserved_destination(path):
        raise PycontainError(f"invalid {what}: the destination cannot be /proc, /sys or "
                             "/dev, nor under them (but /dev/shm and /dev/mqueue)")
    return path


def bind_mount(source: str, dst: str, what: str, options: list) -> dict:
    """A bind of an existing host path (never created on the host)."""
    if not os.path.isabs(source):
        raise PycontainError(f"invalid {what}: the source must be an absolute path")
    if not os.path.exists(source):
        raise PycontainError(f"invalid {what}: the source {source} does not exist on the host")
    return {"destination": dst, "type": "bind", "source": os.path.realpath(source),
            "options": options}


def volume_mount(name, dst: str, options: list, copy: bool) -> tuple:
    """A volume's bind (name None: a new anonymous one) and its reference."""
    anonymous = not name
    name = os.urandom(32).hex() if anonymous else volumes.check_name(name)
    mount = {"destination": dst, "type": "bind", "source": volumes.mountpoint(name),
             "options": options}
    return mount, {"name": name, "destination": dst, "anonymous": anonymous, "copy": copy}


def _choose(chosen: dict, seen: set, option: str, what: str) -> None:
    for kind, values in (("mode", MODE_OPTIONS), ("dev", DEVICE_OPTIONS),
                         ("propagation", PROPAGATIONS), ("nocopy", ("nocopy",)),
                         ("ignored", IGNORED)):
        if option in values:
            if kind in seen:
                break
            seen.add(kind)
            chosen[kind] = option
            return
    raise PycontainError(f"invalid {what}: bad or repeated option {option[:80]!r} (want ro or "
                         "rw, dev or nodev, nocopy, a propagation such as rprivate)")


def parse_volume(spec: str, dev: bool = False) -> tuple:
    """-v: `[SRC:]DST[:OPTIONS]`. SRC an absolute host path (a bind: it must
    exist), a volume name, or nothing (an anonymous volume); OPTIONS a comma
    list of ro|rw, dev|nodev (nodev unless --privileged), nocopy (volumes),
    a propagation (binds). (OCI mount, volume reference or None)."""
    what = f"volume specification {spec[:200]!r}"
    parts = spec.split(":")
    if len(parts) == 2 and all(o in MODE_OPTIONS + DEVICE_OPTIONS + ("nocopy",) + IGNORED
                               for o in parts[1].split(",")):
        parts = ["", *parts]  # DST:OPTIONS
    elif len(parts) < 3:
        parts = [""] * (2 - len(parts)) + parts + [""]
    if len(parts) != 3 or not parts[1] or len(spec) > MAX_TEXT:
        raise PycontainError(f"invalid {what} (want [SRC:]DST[:OPTIONS])")
    src, dst = parts[0], destination(parts[1], what)
    chosen, seen = {"mode": "rw", "dev": "dev" if dev else "nodev"}, set()
    for option in parts[2].split(",") if parts[2] else ():
        _choose(chosen, seen, option, what)
    options = ["rbind", chosen["mode"], chosen["dev"]]
    if src.startswith("/"):
        if "nocopy" in chosen:
            raise PycontainError(f"invalid {what}: nocopy applies to volumes only")
        return bind_mount(src, dst, what, options + [chosen.get("propagation", "rprivate")]), None
    if "propagation" in chosen:
        raise PycontainError(f"invalid {what}: a propagation applies to host paths only")
    return volume_mount(src, dst, options, "nocopy" not in chosen)


def flag_value(value, key: str, what: str) -> bool:
    if value is None or value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise PycontainError(f"invalid {what}: {key} takes true or false, not {value[:80]!r}")


def tmpfs_options(items: list, what: str) -> list:
    """tmpfs options (flags and size=, mode=, uid=, gid=, nr_inodes=) checked
    strictly, after docker's defaults (nosuid, nodev, noexec)."""
    from pycontain.oci.cgroups.ocispec import parse_bytes
    options, seen = list(TMPFS_DEFAULTS), set()
    for item in items:
        key, eq, value = item.partition("=")
        if not eq and key in TMPFS_FLAGS:
            options.append(key)
            continue
        if not eq or key not in TMPFS_VALUES or key in seen:
            raise PycontainError(f"invalid {what}: bad or repeated option {item[:80]!r}")
        seen.add(key)
        if key == "size":
            value = str(parse_bytes(what, value))
            if value in ("0", "-1"):
                raise PycontainError(f"invalid {what}: the size must be above 0")
        elif key == "mode":
            if not value or len(value) > 4 or any(c not in "01234567" for c in value):
                raise PycontainError(f"invalid {what}: the mode must be octal (e.g. 1777)")
        elif not (value.isascii() and value.isdigit() and len(value) < 11):
            raise PycontainError(f"invalid {what}: {key} must be a number")
        options.append(f"{key}={value}")
    return options


def parse_tmpfs(spec: str) -> dict:
    """--tmpfs PATH[:OPTIONS]."""
    what = f"--tmpfs {spec[:200]!r}"
    path, _, opts = spec.partition(":")
    if len(spec) > MAX_TEXT:
        raise PycontainError(f"invalid {what}: too long")
    return {"destination": destination(path, what), "type": "tmpfs", "source": "tmpfs",
            "options": tmpfs_options(opts.split(",") if opts else [], what)}


def plan(opts, image_cfg: dict):
    """Every mount -v, --mount, --tmpfs and the image's Volumes ask for, checked."""
    from pycontain.engine.mountcsv import parse_mount
    found = []
    for spec in opts.volumes:
        found.append(parse_volume(spec, dev=opts.privileged))
    for text in opts.mounts:
        found.append(parse_mount(text, dev=opts.privileged))
    found += [(parse_tmpfs(spec), None) for spec in opts.tmpfs]
    taken = set()
    for mount, _ in found:
        if mount["destination"] in taken:
            raise PycontainError(f"duplicate mount point: {mount['destination']}")
        taken.add(mount["destination"])
    for path in sorted(image_cfg.get("Volumes") or {}):
        dst = destination(path, f"image volume {path[:200]!r}")
        if dst not in taken:  # the image's volumes: anonymous, copied up
            taken.add(dst)
            found.append(volume_mount(None, dst, ["rbind", "rw", "dev" if opts.privileged
                                             else "nodev"], True))
    if len(found) > MAX_MOUNTS:
        raise PycontainError(f"too many mounts ({len(found)}; at most {MAX_MOUNTS})")
    return Plan([m for m, _ in found], [r for _, r in found if r], sysctls(opts.sysctls),
                shm_size(opts.shm_size))


def shm_size(text):
    if text is None:
        return None
    from pycontain.oci.cgroups.ocispec import parse_bytes
    size = parse_bytes("--shm-size", text)
    if size <= 0:
        raise PycontainError(f"invalid --shm-size {text!r}: it must be above 0")
    return size


def sysctls(items: list) -> dict:
    """--sysctl KEY=VALUE items, of the kinds a container's namespaces own."""
    found = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.replace("/", ".")
        parts = key.split(".")
        if not eq or len(item) > MAX_TEXT or "\n" in value or not all(
                p and p not in ("..", ".") and all(c.isalnum() or c in "_-" for c in p)
                and p.isascii() for p in parts):
            raise PycontainError(f"invalid --sysctl {item[:200]!r} (want KEY=VALUE)")
        if not (key in IPC_SYSCTLS or key.startswith(("net.", "fs.mqueue."))):
            raise PycontainError(
                f"sysctl {key!r} is not allowed: only namespaced ones can be set "
                "(net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)")
        found[key] = value
    return found


class Plan:
    """The checked mounts, volume references and sysctls of one container."""

    def __init__(self, mounts: list, volumes: list, sysctl: dict, shm: int | None):
        self.mounts, self.volumes, self.sysctl, self.shm = mounts, volumes, sysctl, shm

    def apply(self, spec: dict) -> None:
        """Into a built spec: the mounts (replacing a default one at the same
        destination), /dev/shm's size, the sysctls (refused where the
        container shares the host's namespace)."""
        taken = {m["destination"] for m in self.mounts}
        mounts = [m for m in spec["mounts"] if m["destination"] not in taken]
        for mount in mounts:
            if self.shm and mount["destination"] == "/dev/shm" and mount["type"] == "tmpfs":
                mount["options"] = [o for o in mount["options"] if not o.startswith("size=")]
                mount["options"].append(f"size={self.shm}")
        # parents before what goes under them (a volume on /etc, then /etc/hosts)
        spec["mounts"] = sorted(mounts + self.mounts, key=lambda m: m["destination"].count("/"))
        if not self.sysctl:
            return
        kinds = {ns["type"] for ns in spec["linux"]["namespaces"]}
        for key in self.sysctl:
            kind = "network" if key.startswith("net.") else "ipc"
            if kind not in kinds:
                raise PycontainError(f"sysctl {key!r} is not allowed: the container shares "
                                     f"the host's {kind} namespace")
        spec["linux"]["sysctl"] = dict(self.sysctl)
