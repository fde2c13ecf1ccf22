"""What every container and function jail starts with: base mounts, device
nodes, masked and read-only paths (docker's defaults)."""

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
DEVICES = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
           ("urandom", 1, 9), ("tty", 5, 0)]
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
    """The OCI mount entries every container (and function jail) starts with."""
    return [{"destination": d, "type": t, "source": s, "options": o} for d, t, s, o in BASE_MOUNTS]


def default_devices() -> list:
    """The minimal /dev device nodes, as OCI linux.devices entries."""
    return [{"path": f"/dev/{nm}", "type": "c", "major": ma, "minor": mi,
             "fileMode": 0o666, "uid": 0, "gid": 0} for nm, ma, mi in DEVICES]
