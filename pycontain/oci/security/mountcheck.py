"""Checks that keep an image's symlinks from steering our mounts.

securejoin already resolves every mount target inside the root, so a symlink
can never make us mount outside it. A kernel file system mounted where the
image has a symlink (a /proc pointing at /dev/shm, say) would still land
somewhere the image chose, which is how CVE-2019-19921 and the
CVE-2025-31133 family worked; like runc, we refuse such images. And the
/dev/null we bind over masked paths must be our own device node.
"""
import os
import stat

from pycontain.errors import PycontainError
from pycontain.oci.defaults import reserved_destination

KERNEL_FS = ("proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2", "tmpfs")


def check_target(root: str, entry: dict, resolved: str | None = None) -> None:
    """Refuse a kernel file system whose destination path has a symlink in the
    image; and a bind whose destination the image's symlinks steer onto /proc,
    /sys or /dev (resolved: where securejoin resolved it, inside root), which
    a volume may not cover (defaults.reserved_destination)."""
    if entry.get("type") not in KERNEL_FS:
        if resolved is not None:
            rel = os.path.relpath(resolved, root)
            inside = "/" if rel == "." else "/" + rel
            declared = os.path.normpath("/" + entry["destination"].lstrip("/"))
            if inside != declared and reserved_destination(inside) \
                    and not reserved_destination(declared):
                raise PycontainError(f"the image's {declared} leads to {inside} through a "
                                     "symbolic link: refusing to mount a volume there "
                                     "(destinations on /proc, /sys and /dev are refused)")
        return
    path = root
    for part in [p for p in entry["destination"].split("/") if p]:
        path = os.path.join(path, part)
        if os.path.islink(path):
            inside = "/" + os.path.relpath(path, root)
            raise PycontainError(f"the image's {inside} is a symbolic link: refusing to mount "
                                 f"{entry['type']} on {entry['destination']}")


def check_dev_null(path: str = "/dev/null") -> None:
    """Our masking source must be the real null device, not a link or file."""
    st = os.lstat(path)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
        raise PycontainError(f"{path} in the container is not the null device: refusing "
                             "to use it to mask paths")
