"""Walking and removing directory trees of any depth, without recursion.

A container's upper dir, an unpacked layer or a function's code can nest
deeper than Python's recursion limit (os.walk, os.fwalk, shutil.rmtree and
copytree all recurse in 3.11) and deeper than PATH_MAX. So the walk keeps an
explicit stack of names, holds one directory fd at a time and uses relative
names only (open/unlink/rmdir with dir_fd). It climbs with '..', checked
against the (st_dev, st_ino) seen on the way down; if that does not match or
is gone (another remover took the directory, or it was renamed), it walks
down again by name from the top and drops what is no longer there.
Symlinks are never followed (O_NOFOLLOW, lstat), and a mount point is never
entered: a directory on another device, or one whose inode is not the one
its parent's entry names (a bind mount of the same file system) and that
/proc/self/mountinfo lists (read only then: it costs ~0.1 ms).
"""
import errno
import os
import stat

FILE, DIR, MOUNT = "file", "dir", "mount"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS = 0x80086601, 0x40086602
_IMMUTABLE_OR_APPEND = 0x10 | 0x20  # FS_IMMUTABLE_FL | FS_APPEND_FL


def walk(top_fd: int, let_in: bool = False):
    """Depth-first over the tree below the directory top_fd (left open).
    Yields (dir_fd, name, kind): FILE for each non-directory, DIR for each
    directory after everything below it, MOUNT for a directory something is
    mounted on, never entered. dir_fd is valid until the next step.
    let_in: give directories that deny us owner permissions (rootless);
    without it they are skipped."""
    top = os.fstat(top_fd)
    dev = top.st_dev
    fd = os.dup(top_fd)
    ids = (dev, top.st_ino)
    stack = []  # per level above fd: (ids, pending subdirectories, name of the child)
    mounts = None  # (st_dev, st_ino) of the mount roots, read when first needed
    try:
        pending = yield from _files(fd)
        while True:
            if pending:
                name, d_ino = pending.pop()
                try:
                    sub = _open_dir(fd, name, let_in)
                except FileNotFoundError:
                    continue
                except PermissionError:
                    if let_in:
                        raise
                    continue  # a walk that may not let itself in skips what denies it
                st = os.fstat(sub)
                if st.st_ino != d_ino and st.st_dev == dev and mounts is None:
                    mounts = mount_roots()
                if st.st_dev != dev or (st.st_ino != d_ino and (dev, st.st_ino) in mounts):
                    os.close(sub)
                    yield fd, name, MOUNT
                    continue
                stack.append((ids, pending, name))
                os.close(fd)
                fd, ids = sub, (st.st_dev, st.st_ino)
                pending = yield from _files(fd)
                continue
            if not stack:
                return
            parent = _dotdot(fd, stack[-1][0])
            os.close(fd)
            fd = -1
            fd = parent if parent >= 0 else _rewalk(top_fd, stack, let_in)
            ids, pending, name = stack.pop()
            if name is not None:
                yield fd, name, DIR
    finally:
        if fd >= 0:
            os.close(fd)


def _files(fd: int):
    """Yield the non-directories of fd; return [(name, inode)] of its directories."""
    with os.scandir(fd) as it:
        entries = [(e.name, e.is_dir(follow_symlinks=False), e.inode()) for e in it]
    dirs = []
    for name, is_dir, inode in entries:
        if is_dir:
            dirs.append((name, inode))
        else:
            yield fd, name, FILE
    return dirs


def _open_dir(dir_fd: int, name: str, let_in: bool) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        if not let_in:
            raise
        os.chmod(name, 0o700, dir_fd=dir_fd, follow_symlinks=False)
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)


def _dotdot(fd: int, ids: tuple) -> int:
    """fd of '..' if it is still the directory we came down from, else -1."""
    try:
        parent = os.open("..", DIR_FLAGS, dir_fd=fd)
    except OSError:  # fd's directory was removed under us, or denies search
        return -1
    st = os.fstat(parent)
    if (st.st_dev, st.st_ino) == ids:
        return parent
    os.close(parent)
    return -1


def _rewalk(top_fd: int, stack: list, let_in: bool) -> int:
    """Walk down by name from the top to the deepest level of stack that is
    still what it was; drop the levels below it (marking its child as gone)
    and return its fd. stack[-1] is then the level the fd belongs to."""
    fd = os.dup(top_fd)
    try:
        for level in range(1, len(stack)):
            ids, _, _ = stack[level]
            try:
                sub = _open_dir(fd, stack[level - 1][2], let_in)
            except OSError:
                sub = -1
            if sub >= 0:
                st = os.fstat(sub)
                if (st.st_dev, st.st_ino) == ids:
                    os.close(fd)
                    fd = sub
                    continue
                os.close(sub)
            del stack[level:]  # gone or replaced below here: not ours to remove any more
            ids, pending, _ = stack[-1]
            stack[-1] = (ids, pending, None)
            break
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unlock(dir_fd: int, name: str) -> None:
    """Let root remove name in dir_fd: clear immutable and append-only
    flags on the directory and, if it is a file or directory, on name;
    rootless, give the directory owner permissions. Best effort."""
    import fcntl
    if os.geteuid() != 0:
        try:
            os.chmod(dir_fd, 0o700)
        except OSError:
            pass
    _clear_flags(fcntl, dir_fd)
    try:
        mode = os.lstat(name, dir_fd=dir_fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return  # no flags on symlinks or special files
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
                     | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
            _clear_flags(fcntl, fd)
    finally:
        os.close(fd)


def _clear_flags(fcntl, fd: int) -> None:
    buf = bytearray(8)
    try:
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf, True)
        flags = int.from_bytes(buf[:4], "little", signed=True)
        if flags & _IMMUTABLE_OR_APPEND:
            new = flags & ~_IMMUTABLE_OR_APPEND
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, new.to_bytes(4, "little", signed=True) + bytes(4))
    except OSError:
        pass  # no such flags on this file system, or not allowed: the retry will say


def _remove(op, dir_fd: int, name: str) -> None:
    try:
        op(name, dir_fd=dir_fd)
    except PermissionError:
        _unlock(dir_fd, name)
        op(name, dir_fd=dir_fd)


def remove_contents(top_fd: int) -> list:
    """Empty the directory top_fd, never crossing into another mount: a
    mount point and the directories above it are kept (everything else is
    removed); returns the names of the mount points kept. What another
    remover takes first is fine."""
    kept = []
    it = walk(top_fd, let_in=os.geteuid() != 0)
    try:
        for dir_fd, name, kind in it:
            try:
                if kind is FILE:
                    _remove(os.unlink, dir_fd, name)
                elif kind is DIR:
                    _remove(os.rmdir, dir_fd, name)
                else:
                    kept.append(name)
            except FileNotFoundError:
                pass
            except OSError as e:
                if not (kind is DIR and kept and e.errno in (errno.ENOTEMPTY, errno.EEXIST)):
                    raise
    finally:
        it.close()
    return kept


def remove_at(dir_fd: int, name: str) -> None:
    """Remove the directory tree name in dir_fd (one of our own making)."""
    fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    try:
        remove_contents(fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def mount_roots() -> set:
    """{(st_dev, st_ino)} of the root of every mount in this mount namespace."""
    roots = set()
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return roots
    for line in lines:
        point = os.fsdecode(line.split(b" ")[4].replace(b"\\040", b" ").replace(
            b"\\011", b"\t").replace(b"\\012", b"\n").replace(b"\\134", b"\\"))
        try:
            st = os.stat(point)
        except OSError:
            continue
        roots.add((st.st_dev, st.st_ino))
    return roots


def tree_size(path: str) -> int:
    """Bytes in the regular files and symlinks below path (0 if it is gone)."""
    try:
        fd = os.open(path, DIR_FLAGS)
    except OSError:
        return 0
    total = 0
    it = walk(fd)
    try:
        for dir_fd, name, kind in it:
            if kind is FILE:
                try:
                    total += os.lstat(name, dir_fd=dir_fd).st_size
                except OSError:
                    pass
    finally:
        it.close()
        os.close(fd)
    return total
