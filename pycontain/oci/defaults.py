"""What every container starts with, whoever builds its spec: base mounts, device
nodes, the device cgroup rules, masked and read-only paths (docker's defaults),
and the destinations a volume may not take."""

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
# the links every container's /dev gets (oci.rootfs makes them)
DEV_SYMLINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
                "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
                "ptmx": "pts/ptmx", "core": "/proc/kcore"}
DEVICES = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
           ("urandom", 1, 9), ("tty", 5, 0)]
# what runc allows besides DEVICES: mknod of any node (opening it is another
# matter), /dev/console, /dev/ptmx and the devpts ptys (not tun/tap: runc 1.2 dropped it)
ALLOWED_DEVICES = [("c", None, None, "m"), ("b", None, None, "m"), ("c", 5, 1, "rwm"),
                   ("c", 5, 2, "rwm"), ("c", 136, None, "rwm")]
# a volume may not go on or under these (runc refuses /proc; binds on /dev or /sys
# would let the engine's /dev set-up write in a host directory, or hide the masks)...
RESERVED_DESTINATIONS = ("/proc", "/sys", "/dev")
# ...but for these: shared memory and queues, and runc's /proc files (for lxcfs)
VOLUME_EXCEPTIONS = ("/dev/shm", "/dev/mqueue", "/proc/cpuinfo", "/proc/diskstats",
                     "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime",
                     "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev")
BASE_MOUNTS = [
    ("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
    # nodev: device nodes are bound in (rootfs.create_devices); one made with mknod is inert
    ("/dev", "tmpfs", "tmpfs", ["nosuid", "nodev", "strictatime", "mode=755", "size=65536k"]),
    ("/dev/pts", "devpts", "devpts",
     ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
    ("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
    ("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
    ("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
]


def default_mounts() -> list:
    """The OCI mount entries every container starts with."""
    return [{"destination": d, "type": t, "source": s, "options": o} for d, t, s, o in BASE_MOUNTS]


def default_devices() -> list:
    """The minimal /dev device nodes, as OCI linux.devices entries."""
    return [{"path": f"/dev/{nm}", "type": "c", "major": ma, "minor": mi,
             "fileMode": 0o666, "uid": 0, "gid": 0} for nm, ma, mi in DEVICES]


def device_rule(allow: bool, kind: str = "a", major=None, minor=None, access="rwm") -> dict:
    """One OCI linux.resources.devices entry (None: any major or minor)."""
    rule = {"allow": allow, "type": kind, "access": access}
    rule.update({k: v for k, v in (("major", major), ("minor", minor)) if v is not None})
    return rule


def default_device_rules() -> list:
    """runc's default device cgroup: everything denied but DEVICES and ALLOWED_DEVICES."""
    return [device_rule(False), *(device_rule(True, "c", ma, mi) for _, ma, mi in DEVICES),
            *(device_rule(True, *rule) for rule in ALLOWED_DEVICES)]


def reserved_destination(destination: str) -> bool:
    """Whether a volume may not be mounted at destination (a normalised path)."""
    return destination not in VOLUME_EXCEPTIONS and any(
        destination == top or destination.startswith(top + "/") for top in RESERVED_DESTINATIONS)
