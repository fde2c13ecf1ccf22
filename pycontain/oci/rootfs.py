"""Build the container's root file system inside its new mount namespace.

Runs in the container's first process before exec: overlay of the image
layers, the spec's mounts, a minimal /dev, masked and read-only paths, then
pivot_root. Every mount lives only in the container's mount namespace, so
nothing is left on the host when its last process exits.
"""
import errno
import os
import stat

from pycontain import native as n
from pycontain.errors import PycontainError
from pycontain.oci.defaults import DEV_SYMLINKS
from pycontain.oci.mounts import PROPAGATION, mount_entry
from pycontain.oci.securejoin import secure_join
from pycontain.oci.security.mountcheck import check_dev_null, check_target

ROOT_PROPAGATION = dict(PROPAGATION, unbindable=n.MS_UNBINDABLE,
                        runbindable=n.MS_UNBINDABLE | n.MS_REC)
DEVICE_KINDS = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def mount_overlay(target: str, overlay: dict, userns: bool = False, nodev: bool = False) -> None:
    """Mount the image layers (bottom first) plus a private upper dir on target.

    The option string is built from paths relative to the layer store so that
    images with many layers stay under the kernel's one-page limit. In a user
    namespace overlay keeps its metadata in user.overlay.* xattrs (userxattr),
    as the store writes them when it unpacks layers as a normal user.
    """
    base = overlay["base"]
    lowers = ":".join(reversed(overlay["lower"]))
    data = f"lowerdir={lowers},upperdir={overlay['upper']},workdir={overlay['work']}"
    if userns:
        data += ",userxattr"
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.chdir(base)
        n.mount("overlay", target, "overlay", n.MS_NODEV if nodev else 0, data)
    finally:
        os.fchdir(cwd)
        os.close(cwd)


def volatile_upper(target: str, overlay: dict):
    """For throwaway roots (overlay volatile): a tmpfs on target holds the
    overlay's upper and work dirs, so nothing is written to disk and nothing
    needs removing. Returns (root path to mount on, overlay with those dirs)."""
    n.mount("tmpfs", target, "tmpfs", n.MS_NOSUID | n.MS_NODEV,
            f"size={overlay['volatile']},mode=0755")
    for sub in ("upper", "work", "root"):
        os.mkdir(os.path.join(target, sub), 0o755)
    return (os.path.join(target, "root"), dict(overlay, upper=os.path.join(target, "upper"),
                                               work=os.path.join(target, "work")))


def _own_dev_tmpfs(spec_mounts) -> bool:
    dev = [m for m in spec_mounts if m["destination"].rstrip("/") == "/dev"]
    return bool(dev) and dev[-1].get("type") == "tmpfs"


def _dev_fs(root: str, spec_mounts) -> int:
    """The st_dev of the container's /dev, after checking it is the spec's own
    tmpfs: device nodes and links are never made through a bind of a host directory."""
    if not _own_dev_tmpfs(spec_mounts):
        raise PycontainError("refusing to make device nodes: the container's /dev is not "
                             "a tmpfs of its own")
    return os.stat(secure_join(root, "/dev")).st_dev


def _on(fs: int, path: str) -> str:
    """path, once its directory (made if need be) is on the file system fs."""
    parent = os.path.dirname(path)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    if os.stat(parent).st_dev != fs:
        raise PycontainError(f"refusing to make {path}: not on the container's /dev")
    return path


def create_devices(root: str, devices: list, spec_mounts=(), bind: bool = False) -> None:
    """mknod the spec's devices in the container's /dev (a fresh tmpfs); in a
    user namespace, where mknod is not allowed, or on a nodev /dev, bind the
    host's nodes instead (hostPath, or the same path on the host). A /dev that
    is not the container's own tmpfs (an OCI bundle's bind of a host /dev) gets
    no nodes and no links, and a device asked for there is an error."""
    if not devices and not _own_dev_tmpfs(spec_mounts):
        return
    fs = _dev_fs(root, spec_mounts)
    for dev in devices:
        path = _on(fs, secure_join(root, dev["path"]))
        if bind:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
            n.mount(dev.get("hostPath", dev["path"]), path, None, n.MS_BIND)
            continue
        kind = DEVICE_KINDS.get(dev.get("type", "c"), stat.S_IFCHR)
        os.mknod(path, kind | dev.get("fileMode", 0o666),
                 os.makedev(dev["major"], dev["minor"]))
        os.chown(path, dev.get("uid", 0), dev.get("gid", 0))
        os.chmod(path, dev.get("fileMode", 0o666))
    dev_dir = secure_join(root, "/dev")
    for name, target in DEV_SYMLINKS.items():
        link = os.path.join(dev_dir, name)  # on fs: _dev_fs checked /dev is the tmpfs
        if not os.path.lexists(link) and (name != "core" or os.path.exists("/proc/kcore")):
            os.symlink(target, link)


def mask_paths(masked: list, readonly: list) -> None:
    """Hide maskedPaths (bind /dev/null, or an empty read-only tmpfs for
    directories) and bind-remount readonlyPaths read-only. Runs after pivot."""
    if masked:
        check_dev_null()
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


def write_sysctls(sysctls: dict) -> None:
    """linux.sysctl, written in the container's own /proc/sys (its namespaces')."""
    for key, value in sysctls.items():
        parts = key.replace("/", ".").split(".")
        if not all(parts) or ".." in key or any(p in (".", "..") for p in parts):
            raise OSError(errno.EINVAL, f"invalid sysctl {key!r}")
        fd = os.open("/proc/sys/" + "/".join(parts), os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)


def pivot_into(root: str) -> None:
    """Make root the process's / and detach the old root entirely."""
    os.chdir(root)
    n.pivot_root(".", ".")
    n.umount2(".", n.MNT_DETACH)
    os.chdir("/")


CGROUP_DIR = "/sys/fs/cgroup"


def _in_cgroup_dir(path: str) -> bool:
    return path == CGROUP_DIR or path.startswith(CGROUP_DIR + "/")


def _mount_root(rootfs: str, spec: dict, overlay: dict | None, nodev: bool) -> None:
    """The root as a mount point, as pivot_root wants: the overlay of the image
    layers, or (an OCI bundle, overlay None) the bundle's rootfs bound onto itself."""
    linux = spec.get("linux", {})
    userns = any(ns.get("type") == "user" for ns in linux.get("namespaces", ()))
    if overlay is None:
        n.mount(rootfs, rootfs, None, n.MS_BIND | n.MS_REC)
    else:
        mount_overlay(rootfs, overlay, userns, nodev)


def setup_rootfs(spec: dict, rootfs: str, overlay: dict | None, before_pivot=None) -> None:
    """Everything between unshare and exec that concerns files and mounts,
    but /sys/fs/cgroup: see mount_cgroup_fs. overlay None: rootfs is used as it
    is (an OCI bundle's root); before_pivot: called with everything mounted
    (an OCI bundle's createContainer hooks)."""
    linux = spec.get("linux", {})
    # nothing we mount may reach the host: private, or slave where the bundle
    # asks for propagation (applied to the new root after pivot_root)
    n.mount(None, "/", None, n.MS_REC | (n.MS_SLAVE if linux.get("rootfsPropagation")
                                          in ROOT_PROPAGATION else n.MS_PRIVATE))
    if overlay is not None and overlay.get("volatile"):
        rootfs, overlay = volatile_upper(rootfs, overlay)
    userns = any(ns.get("type") == "user" for ns in linux.get("namespaces", ()))
    # a nodev /dev (all but --privileged) means: devices only where we bind them,
    # so a node made with mknod (CAP_MKNOD) opens nothing, in /dev or on the root
    nodev = any(m["destination"] == "/dev" and "nodev" in m.get("options", ())
                for m in spec.get("mounts", ()))
    _mount_root(rootfs, spec, overlay, nodev)
    for entry in spec.get("mounts", ()):
        if not _in_cgroup_dir(entry["destination"]):
            check_target(rootfs, entry, secure_join(rootfs, entry["destination"]))
            mount_entry(rootfs, entry)
    create_devices(rootfs, linux.get("devices", ()), spec.get("mounts", ()),
                   bind=userns or nodev)
    if before_pivot is not None:
        before_pivot()
    pivot_into(rootfs)
    write_sysctls(linux.get("sysctl") or {})  # before /proc/sys turns read-only
    mask_paths(linux.get("maskedPaths", ()),
               [p for p in linux.get("readonlyPaths", ()) if not _in_cgroup_dir(p)])
    if spec.get("root", {}).get("readonly"):
        n.mount(None, "/", None, n.MS_BIND | n.MS_REMOUNT | n.MS_RDONLY)
    if linux.get("rootfsPropagation") in ROOT_PROPAGATION:
        n.mount(None, "/", None, ROOT_PROPAGATION[linux["rootfsPropagation"]])


def mount_cgroup_fs(spec: dict) -> None:
    """Mount the container's /sys/fs/cgroup (after pivot_root).

    Deferred until the engine has moved the process into its cgroup and the
    process has unshared its cgroup namespace, so the mounts show that cgroup
    as the root; the rest of the root file system is built meanwhile, while
    the engine pays the kernel's slow first cgroup move.
    """
    for entry in spec.get("mounts", ()):
        if _in_cgroup_dir(entry["destination"]):
            check_target("/", entry)
            mount_entry("/", entry)
    mask_paths((), [p for p in spec.get("linux", {}).get("readonlyPaths", ())
                    if _in_cgroup_dir(p)])
