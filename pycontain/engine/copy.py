"""`cp`: files between a container and the host, as tar streams.

The container's side always runs chrooted in its root (engine.rootview), so
its paths, symlinks included, never reach the host's files. The stream is a
tar archive: written by `write_tar` (an explicit stack, not recursion, and
no user or group name lookups), unpacked by `extract`, which refuses names
that climb out (`..`, absolute) and never writes through a symlink inside
the tree it unpacks. docker's rules for where things land:
  DEST an existing directory   SRC goes inside it (SRC/. : SRC's contents)
  DEST missing                 SRC is written as DEST (its parent must exist)
  DEST an existing file        a file SRC replaces it; a directory is refused
Files copied to the host lose setuid/setgid bits and keep our owner; into a
container they are owned by root, unless -a (archive) keeps the owners.
"""
import os
import stat
import tarfile

from pycontain.errors import PycontainError

COPY_ERROR = 1  # docker's exit code for a failed cp
CHUNK = 1 << 20


def write_tar(src: str, out) -> None:
    """A tar of src (named by its base name) to the binary stream out."""
    tarfile.pwd = tarfile.grp = None  # numeric owners only: no NSS lookups (chrooted)
    src = os.path.normpath(src) if src not in ("/", "/.") else "/"
    if not os.path.lexists(src):
        raise PycontainError(f"no such file or directory: {src}", COPY_ERROR)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        if src == "/":  # the whole root (export): its entries, without one for "/"
            stack = [(f"/{name}", name) for name in sorted(os.listdir("/"), reverse=True)]
        else:
            stack = [(src, os.path.basename(src))]
        while stack:
            path, arc = stack.pop()
            info = tar.gettarinfo(path, arc)
            if info is None:  # a socket: not archived
                continue
            if info.isreg():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
            if info.isdir():
                names = sorted(os.listdir(path), reverse=True)
                stack.extend((os.path.join(path, name), f"{arc}/{name}") for name in names)


def _parts(name: str) -> list:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PycontainError(f"invalid path in the archive: {name!r}", COPY_ERROR)
    return parts


class _Placement:
    """Where the members go, decided by the first one (docker's rules above)."""

    def __init__(self, dest: str, contents_only: bool, from_stdin: bool):
        self.dest, self.contents_only, self.from_stdin = dest, contents_only, from_stdin
        self.directory = self.rename = None
        self.strip = False

    def decide(self, first_is_dir: bool) -> None:
        dest = self.dest
        try:
            st = os.stat(dest)
        except FileNotFoundError:
            st = None
        if self.from_stdin:  # `cp - CTR:DEST`: an archive into a directory
            if st is None or not stat.S_ISDIR(st.st_mode):
                raise PycontainError(f"destination {dest} must be a directory", COPY_ERROR)
            self.directory = dest
        elif st is not None and stat.S_ISDIR(st.st_mode):
            self.directory, self.strip = dest, self.contents_only
        elif st is not None:
            if first_is_dir:
                raise PycontainError(f"cannot copy a directory to a file: {dest}", COPY_ERROR)
            self.directory, self.rename = os.path.dirname(dest) or ".", os.path.basename(dest)
        else:
            if dest.endswith("/"):
                raise PycontainError(f"no such directory: {dest}", COPY_ERROR)
            parent = os.path.dirname(os.path.normpath(dest)) or "."
            if not os.path.isdir(parent):
                raise PycontainError(f"no such directory: {parent}", COPY_ERROR)
            self.directory, self.rename = parent, os.path.basename(os.path.normpath(dest))

    def path(self, name: str):
        """The member's parts under directory (None: the stripped top)."""
        parts = _parts(name)
        if self.strip:
            parts = parts[1:]
        elif self.rename and parts:
            parts[0] = self.rename
        return parts or None


def extract(stream, dest: str, contents_only: bool = False, from_stdin: bool = False,
            keep_owner: bool = False, to_host: bool = False) -> None:
    """Unpack the tar on the binary stream into dest (docker's rules)."""
    place = _Placement(dest, contents_only, from_stdin)
    safe_dirs = set()  # directories under place.directory made or checked: no symlinks
    try:
        tar = tarfile.open(fileobj=stream, mode="r|")
    except tarfile.ReadError as exc:
        raise PycontainError(f"invalid tar archive: {exc}", COPY_ERROR) from None
    with tar:
        for member in tar:
            if place.directory is None:
                place.decide(member.isdir())
            parts = place.path(member.name)
            if parts is None:
                continue
            _check_parents(place.directory, parts[:-1], safe_dirs)
            target = os.path.join(place.directory, *parts)
            _unpack(tar, member, target, place, safe_dirs, parts)
            mode = member.mode & (0o777 if to_host and not keep_owner else 0o7777)
            if keep_owner:
                os.chown(target, member.uid, member.gid, follow_symlinks=False)
            if not member.issym():
                os.chmod(target, mode)
                os.utime(target, (member.mtime, member.mtime))
    if place.directory is None:
        raise PycontainError("the archive is empty", COPY_ERROR)


def _check_parents(root: str, parents: list, safe: set) -> None:
    """Each parent directory is a real directory (not a symlink) under root;
    those the archive does not hold are made (0755)."""
    for i in range(len(parents)):
        rel = "/".join(parents[:i + 1])
        if rel in safe:
            continue
        try:
            st = os.lstat(os.path.join(root, rel))
        except FileNotFoundError:
            os.mkdir(os.path.join(root, rel), 0o755)
            st = os.lstat(os.path.join(root, rel))
        if not stat.S_ISDIR(st.st_mode):
            raise PycontainError(f"refusing to write through {rel}: not a directory",
                                 COPY_ERROR)
        safe.add(rel)


def _clear(target: str, keep_dir: bool) -> None:
    """Remove what is at target (not a directory we keep)."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if keep_dir:
            return
        raise PycontainError(f"cannot overwrite directory {target} with a non-directory",
                             COPY_ERROR)
    os.unlink(target)


def _unpack(tar, member, target: str, place, safe: set, parts: list) -> None:
    if member.isdir():
        _clear(target, keep_dir=True)
        if not os.path.isdir(target):
            os.mkdir(target, 0o700)
        safe.add("/".join(parts))
        return
    _clear(target, keep_dir=False)
    if member.isreg():
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        with os.fdopen(fd, "wb") as out, tar.extractfile(member) as data:
            while chunk := data.read(CHUNK):
                out.write(chunk)
    elif member.issym():
        os.symlink(member.linkname, target)
    elif member.islnk():
        link = place.path(member.linkname)
        if not link:
            raise PycontainError(f"invalid hard link in the archive: {member.name!r}",
                                 COPY_ERROR)
        _check_parents(place.directory, link[:-1], safe)
        os.link(os.path.join(place.directory, *link), target, follow_symlinks=False)
    elif member.isfifo():
        os.mkfifo(target, 0o600)
    elif member.ischr() or member.isblk():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(target, kind | 0o600, os.makedev(member.devmajor, member.devminor))


def copy_from(ctr, src: str, dest: str, keep_owner: bool = False) -> None:
    """`cp CTR:SRC DEST` (DEST `-`: the tar to our stdout)."""
    from pycontain.engine.rootview import in_root

    contents_only = src.endswith("/.")
    if dest == "-":
        wait = in_root(ctr, lambda: _tar_to(src, 1), keep_fds=(1,))
        wait()
        return
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    wait = in_root(ctr, lambda: _tar_to(src, write_end), keep_fds=(write_end,))
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as stream:
            extract(stream, dest, contents_only, keep_owner=keep_owner, to_host=True)
    except BaseException:
        wait()  # the container side's error says more (a missing SRC)
        raise
    wait()


def _tar_to(src: str, fd: int) -> None:
    with os.fdopen(fd, "wb") as out:
        write_tar(src, out)


def copy_into(ctr, src: str, dest: str, keep_owner: bool = False) -> None:
    """`cp SRC CTR:DEST` (SRC `-`: a tar from our stdin, DEST a directory)."""
    from pycontain.engine.rootview import in_root

    if src == "-":
        wait = in_root(ctr, lambda: _untar_from(0, dest, False, True, keep_owner),
                       keep_fds=(0,))
        wait()
        return
    if not os.path.lexists(src):
        raise PycontainError(f"no such file or directory: {src}", COPY_ERROR)
    contents_only = src.endswith("/.")
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    wait = in_root(ctr, lambda: _untar_from(read_end, dest, contents_only, False, keep_owner),
                   keep_fds=(read_end,))
    os.close(read_end)
    try:
        with os.fdopen(write_end, "wb") as out:
            write_tar(src, out)
    except BrokenPipeError:
        pass  # the container side stopped early: wait() says why
    wait()


def _untar_from(fd: int, dest: str, contents_only: bool, from_stdin: bool,
                keep_owner: bool) -> None:
    with os.fdopen(fd, "rb") as stream:
        extract(stream, dest, contents_only, from_stdin, keep_owner)


def split_ref(arg: str):
    """(container ref, path) for CTR:PATH, or (None, arg) for a host path."""
    head, colon, path = arg.partition(":")
    if colon and head and "/" not in head and not arg.startswith((".", "/")):
        return head, path
    return None, arg
