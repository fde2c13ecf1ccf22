"""Turn OCI mount entries (type, source, destination, options) into mount(2) calls."""
import os

from pycontain import native as n
from pycontain.oci.securejoin import secure_join

# option -> (flags to set, flags to clear)
FLAG_OPTIONS = {
    "ro": (n.MS_RDONLY, 0), "rw": (0, n.MS_RDONLY),
    "nosuid": (n.MS_NOSUID, 0), "suid": (0, n.MS_NOSUID),
    "nodev": (n.MS_NODEV, 0), "dev": (0, n.MS_NODEV),
    "noexec": (n.MS_NOEXEC, 0), "exec": (0, n.MS_NOEXEC),
    "strictatime": (n.MS_STRICTATIME, 0),
    "bind": (n.MS_BIND, 0), "rbind": (n.MS_BIND | n.MS_REC, 0),
}
PROPAGATION = {"private": n.MS_PRIVATE, "rprivate": n.MS_PRIVATE | n.MS_REC,
               "slave": n.MS_SLAVE, "rslave": n.MS_SLAVE | n.MS_REC,
               "shared": n.MS_SHARED, "rshared": n.MS_SHARED | n.MS_REC}
# read-only, nosuid, nodev and noexec are the flags a bind remount may change
REMOUNT_MASK = n.MS_RDONLY | n.MS_NOSUID | n.MS_NODEV | n.MS_NOEXEC
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 4096
# what the source's mount already restricts, kept by the remount (statvfs's ST_*
# equal these MS_* values): a user namespace may not lift them, and we never do
KEPT = REMOUNT_MASK | MS_NOATIME | MS_NODIRATIME | MS_RELATIME


def _remount_flags(target: str, wanted: int) -> int:
    current = os.statvfs(target).f_flag & KEPT
    if not current & (MS_NOATIME | MS_RELATIME):
        current |= n.MS_STRICTATIME  # else the remount would default to relatime
    return wanted | current


def parse_options(options):
    """Split OCI mount options into (flags, propagation flags, data string)."""
    flags, propagation, data = 0, 0, []
    for opt in options:
        if opt in FLAG_OPTIONS:
            on, off = FLAG_OPTIONS[opt]
            flags = (flags | on) & ~off
        elif opt in PROPAGATION:
            propagation |= PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, propagation, ",".join(data) or None


def _make_target(target: str, source_is_dir: bool) -> None:
    if os.path.lexists(target):
        return
    if source_is_dir:
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o644))


def mount_entry(root: str, entry: dict) -> None:
    """Mount one OCI mount entry under root (which is not yet pivoted into)."""
    flags, propagation, data = parse_options(entry.get("options", ()))
    kind = entry.get("type") or "bind"
    source = entry.get("source") or kind
    target = secure_join(root, entry["destination"])
    is_bind = bool(flags & n.MS_BIND) or kind == "bind"
    _make_target(target, os.path.isdir(source) if is_bind else True)
    if is_bind:
        n.mount(source, target, None, n.MS_BIND | (flags & n.MS_REC))
        if flags & REMOUNT_MASK:
            n.mount(None, target, None,
                    n.MS_BIND | n.MS_REMOUNT | _remount_flags(target, flags & REMOUNT_MASK))
    else:
        n.mount(source, target, kind, flags, data)
    if propagation:
        n.mount(None, target, None, propagation)
