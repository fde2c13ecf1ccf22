"""Build the container's root file system inside its new mount namespace.

Runs in the container's first process before exec: overlay of the image
layers, the spec's mounts, a minimal /dev, masked and read-only paths, then
pivot_root. Every mount lives only in the container's mount namespace, so
nothing is left on the host when its last process exits.
"""
import os
import stat

from pycontain import native as n
from pycontain.runtime.mounts import mount_entry
from pycontain.runtime.securejoin import secure_join

DEV_SYMLINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
                "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
                "ptmx": "pts/ptmx", "core": "/proc/kcore"}


def mount_overlay(target: str, overlay: dict) -> None:
    """Mount the image layers (bottom first) plus a private upper dir on target.

    The option string is built from paths relative to the layer store so that
    images with many layers stay under the kernel's one-page limit.
    """
    base = overlay["base"]
    lowers = ":".join(reversed(overlay["lower"]))
    data = f"lowerdir={lowers},upperdir={overlay['upper']},workdir={overlay['work']}"
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.chdir(base)
        n.mount("overlay", target, "overlay", 0, data)
    finally:
        os.fchdir(cwd)
        os.close(cwd)


def create_devices(root: str, devices: list) -> None:
    """mknod the spec's devices in the container's /dev (a fresh tmpfs)."""
    for dev in devices:
        path = secure_join(root, dev["path"])
        kind = stat.S_IFCHR if dev.get("type", "c") == "c" else stat.S_IFBLK
        os.mknod(path, kind | dev.get("fileMode", 0o666),
                 os.makedev(dev["major"], dev["minor"]))
        os.chown(path, dev.get("uid", 0), dev.get("gid", 0))
        os.chmod(path, dev.get("fileMode", 0o666))
    dev_dir = secure_join(root, "/dev")
    for name, target in DEV_SYMLINKS.items():
        link = os.path.join(dev_dir, name)
        if not os.path.lexists(link) and (name != "core" or os.path.exists("/proc/kcore")):
            os.symlink(target, link)


def mask_paths(masked: list, readonly: list) -> None:
    """Hide maskedPaths (bind /dev/null, or an empty read-only tmpfs for
    directories) and bind-remount readonlyPaths read-only. Runs after pivot."""
    for path in masked:
        try:
            is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
        except FileNotFoundError:
            continue
        if is_dir:
            n.mount("tmpfs", path, "tmpfs", n.MS_RDONLY, "size=0,mode=0755")
        else:
            n.mount("/dev/null", path, None, n.MS_BIND)
    for path in readonly:
        if not os.path.lexists(path):
            continue
        n.mount(path, path, None, n.MS_BIND | n.MS_REC)
        n.mount(None, path, None,
                n.MS_BIND | n.MS_REMOUNT | n.MS_RDONLY | n.MS_NOSUID | n.MS_NODEV | n.MS_NOEXEC)


def pivot_into(root: str) -> None:
    """Make root the process's / and detach the old root entirely."""
    os.chdir(root)
    n.pivot_root(".", ".")
    n.umount2(".", n.MNT_DETACH)
    os.chdir("/")


def setup_rootfs(spec: dict, rootfs: str, overlay: dict) -> None:
    """Everything between unshare and exec that concerns files and mounts."""
    n.mount(None, "/", None, n.MS_REC | n.MS_PRIVATE)
    mount_overlay(rootfs, overlay)
    # bind the merged root onto itself so it is a mount point pivot_root accepts
    n.mount(rootfs, rootfs, None, n.MS_BIND | n.MS_REC)
    for entry in spec.get("mounts", ()):
        mount_entry(rootfs, entry)
    linux = spec.get("linux", {})
    create_devices(rootfs, linux.get("devices", ()))
    pivot_into(rootfs)
    mask_paths(linux.get("maskedPaths", ()), linux.get("readonlyPaths", ()))
    if spec.get("root", {}).get("readonly"):
        n.mount(None, "/", None, n.MS_BIND | n.MS_REMOUNT | n.MS_RDONLY)
