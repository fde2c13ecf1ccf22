"""Copy an image directory into a new, empty volume, as docker does when a
volume is first mounted over content the image has.

A child (rootview.in_child) makes a private mount namespace with a small
tmpfs holding three mount points: the image's layers (read-only overlay), the
image directory (resolved with its symlinks inside the image's root, then
bound read-only at /src) and the volume's _data (at /dst); it chroots there
and copies /src to /dst. Inside that chroot no symlink, whether in the image
or made in the volume meanwhile, leads anywhere but those two trees, and /src
cannot be written. The walk keeps an explicit stack (no recursion); owners,
modes (set-id bits too), times, extended attributes, symlinks, hard links,
device nodes and fifos are kept; sockets are skipped.
"""
import errno
import os
import stat

from pycontain import native as n
from pycontain.oci.securejoin import secure_join

NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def _mount_image(base: str, lower: list, target: str) -> None:
    """The image's layers (bottom first, relative to base) read-only on target."""
    if len(lower) == 1:  # overlay wants two lower layers when it has no upper one
        n.mount(os.path.join(base, lower[0]), target, None, n.MS_BIND)
        n.mount(None, target, None, n.MS_BIND | n.MS_REMOUNT | n.MS_RDONLY)
        return
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.chdir(base)  # relative names keep the option string short
        n.mount("overlay", target, "overlay", n.MS_RDONLY | n.MS_NODEV,
                "lowerdir=" + ":".join(reversed(lower)))
    finally:
        os.fchdir(cwd)
        os.close(cwd)


def _enter(scratch: str, base: str, lower: list, path: str, volume: str) -> None:
    n.unshare(n.CLONE_NEWNS)
    n.mount(None, "/", None, n.MS_REC | n.MS_PRIVATE)
    n.mount("tmpfs", scratch, "tmpfs", n.MS_NOSUID | n.MS_NODEV, "size=64k,mode=0700")
    for sub in ("img", "src", "dst"):
        os.mkdir(os.path.join(scratch, sub), 0o700)
    image = os.path.join(scratch, "img")
    _mount_image(base, lower, image)
    source, src = secure_join(image, path), os.path.join(scratch, "src")
    try:
        is_dir = stat.S_ISDIR(os.lstat(source).st_mode)  # symlinks resolved: none left
    except FileNotFoundError:
        is_dir = False
    if is_dir:
        n.mount(source, src, None, n.MS_BIND)
        n.mount(None, src, None, n.MS_BIND | n.MS_REMOUNT | n.MS_RDONLY)
    else:  # nothing to copy
        os.rmdir(src)
    n.mount(volume, os.path.join(scratch, "dst"), None, n.MS_BIND)
    n.umount2(image, n.MNT_DETACH)
    os.chroot(scratch)
    os.chdir("/")


def _xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False),
                        follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EINVAL):
                raise


def _attributes(fd: int, st, src: str, dst: str) -> None:
    """Owner, then mode and extended attributes (chown clears set-id bits
    and file capabilities), then times, on an open file or directory."""
    os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    _xattrs(src, dst)
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy_file(src: str, dst: str, st) -> None:
    fin = os.open(src, os.O_RDONLY | NOFOLLOW)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600)
        try:
            offset = 0
            while offset < st.st_size:
                sent = os.sendfile(fout, fin, offset, min(st.st_size - offset, 1 << 30))
                if sent == 0:
                    break
                offset += sent
            _attributes(fout, st, src, dst)
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def _copy_entry(src: str, dst: str, st, links: dict) -> bool:
    """One non-directory entry; False if it is skipped (a socket)."""
    mode = st.st_mode
    if stat.S_ISREG(mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            os.link(links[key], dst, follow_symlinks=False)
            return True
        _copy_file(src, dst, st)
        if st.st_nlink > 1:
            links[key] = dst
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), dst)
        os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        os.mknod(dst, mode, st.st_rdev)
        os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
        os.chmod(dst, stat.S_IMODE(mode), follow_symlinks=True)  # a node, never a link
    else:
        return False
    return True


def _finish_dir(src: str, dst: str, st) -> None:
    fd = os.open(dst, os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW)
    try:
        _attributes(fd, st, src, dst)
    finally:
        os.close(fd)


def copy_tree(src: str = "/src", dst: str = "/dst") -> None:
    """Copy src's contents into the empty dst, and src's owner and mode onto dst."""
    stack, dirs, links = [""], [("", os.lstat(src))], {}
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(src, rel)) as entries:
            found = [(e.name, e.stat(follow_symlinks=False)) for e in entries]
        for name, st in found:
            sub = os.path.join(rel, name)
            target = os.path.join(dst, sub)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(target, 0o700)
                stack.append(sub)
                dirs.append((sub, st))
            else:
                _copy_entry(os.path.join(src, sub), target, st, links)
    for rel, st in reversed(dirs):  # deepest first: times stay as the image has them
        _finish_dir(os.path.join(src, rel), os.path.join(dst, rel), st)


def copy_up(scratch: str, base: str, lower: list, path: str, volume: str) -> None:
    """Copy the image directory path (the image: base and its lower layers,
    as in a container's record) into the volume directory (empty); scratch:
    an empty directory to mount on (in the child's namespace only)."""
    from pycontain.engine.rootview import in_child

    def enter():
        _enter(scratch, base, lower, path, volume)

    def work():
        if os.path.isdir("/src"):  # our tmpfs's mount point, or nothing
            copy_tree()

    in_child(enter, work, what=f"copying the image's {path} into its volume")()

