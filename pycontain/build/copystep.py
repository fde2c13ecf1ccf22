"""COPY and ADD: which files go where, their cache digest, and their layer.

Sources come from a tree (the context, or a stage's or image's merged
layers), by name or by glob (`*`, `?`, `[...]` per component). A directory
source copies its contents; a file goes to DEST/NAME when DEST is a
directory (it ends in '/', exists as one, or there are several sources),
else to DEST. Copied entries belong to 0:0 unless --chown, keep their mode
unless --chmod; directories made on the way are 0755. ADD extracts a local
tar archive (plain, gzip, bzip2, xz) into DEST and downloads an http(s) URL
(mode 0600, docker's rule). The digest covers every
entry's name, type, mode, owner, size, content and link target, never its
mtime, so a `touch` keeps the cache.
"""
import fnmatch
import hashlib
import posixpath
import stat
import tarfile

from pycontain.errors import PycontainError
from pycontain.image import tarsafe

MAX_ENTRIES = 1_000_000


class Item:
    __slots__ = ("name", "host", "st", "mode", "uid", "gid", "data", "archive")

    def __init__(self, name, host=None, st=None, mode=0o755, uid=0, gid=0, data=None,
                 archive=None):
        self.name, self.host, self.st, self.mode = name, host, st, mode
        self.uid, self.gid, self.data, self.archive = uid, gid, data, archive


def _glob(tree, pattern: str) -> list:
    """Paths in tree matching pattern component by component, sorted."""
    parts = [p for p in pattern.split("/") if p and p != "."]
    found = [""]
    for part in parts:
        nxt = []
        for base in found:
            if any(c in part for c in "*?["):
                got = tree.lookup(base)
                if got is None or not stat.S_ISDIR(got[1].st_mode):
                    continue
                nxt += [f"{base}/{n}" if base else n for n in tree.listdir(base)
                        if fnmatch.fnmatchcase(n, part)]
            else:
                nxt.append(f"{base}/{part}" if base else part)
        found = nxt
    return sorted(p for p in found if tree.lookup(p) is not None)


def _clean_source(src: str, what: str) -> str:
    cleaned = posixpath.normpath("/" + src).lstrip("/")
    if posixpath.normpath(src).startswith("../") or posixpath.normpath(src) == "..":
        raise PycontainError(f"{what}: {src}: forbidden path outside the build context")
    return cleaned


def _is_archive(host: str) -> bool:
    """Whether ADD extracts host: a tar (plain or compressed) by its first
    member, read through tarsafe (a refused one is an archive, refused later)."""
    try:
        with tarsafe.open_file(host):
            return True
    except tarsafe.Refused:
        return True
    except (tarfile.TarError, EOFError, OSError):
        return False


def plan(sources, dest: str, workdir: str, tree, image, heredocs, add=False,
         chown=None, chmod=None, fetch=None) -> list:
    """The Items of one COPY/ADD. image: a Merged view of the stage so far
    (for DEST's type and which parents exist); chown: (uid, gid) or None;
    fetch(url) -> (host path, lstat) downloads ADD's URLs."""
    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    dest_dir = dest.endswith("/") or len(sources) > 1
    dest = image.resolve(posixpath.normpath(dest), follow_last=True)  # in the image's root
    existing = image.lookup(dest) if dest else None
    if not dest or (existing and stat.S_ISDIR(existing[1].st_mode)):
        dest_dir = True
    uid, gid = chown if chown else (0, 0)
    items, made = [], set()

    def parents(name):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            path = "/".join(parts[:i])
            if path not in made and image.lookup(path) is None:
                made.add(path)
                items.append(Item(path, mode=0o755 | stat.S_IFDIR, uid=uid, gid=gid))

    def entry(name, host, st, owner=None):
        mode = st.st_mode
        if chmod is not None and not stat.S_ISLNK(mode):
            mode = stat.S_IFMT(mode) | chmod
        u, g = (uid, gid) if owner is None or chown else owner
        parents(name)
        if stat.S_ISDIR(st.st_mode):
            made.add(name)
        items.append(Item(name, host, st, mode, u, g))

    resolved = []
    for src in sources:
        if src.startswith("<<"):
            doc = next((h for h in heredocs if h.name == src[2:].strip("\"'-")), None)
            if doc is None:
                raise PycontainError(f"no heredoc named {src}")
            resolved.append(("doc", doc))
            continue
        if add and src.startswith(("http://", "https://")):
            resolved.append(("url", src))
            continue
        cleaned = _clean_source(src, "COPY")
        matches = _glob(tree, cleaned) if any(c in cleaned for c in "*?[") else \
            ([cleaned] if tree.lookup(cleaned) is not None else [])
        matches = [tree.resolve(m) for m in matches]
        if not matches:
            raise PycontainError(f"COPY failed: {src}: no such file or directory "
                                 "(or excluded by .dockerignore)")
        resolved += [("path", m) for m in matches]
    if len(resolved) > 1:
        dest_dir = True
    for kind, value in resolved:
        if kind == "url":  # docker: mode 0600, named after the URL's last part
            host, st = fetch(value)
            base = posixpath.basename(value.split("?")[0].split("#")[0].rstrip("/"))
            if dest_dir and not base:
                raise PycontainError(f"ADD {value}: cannot name the file (the URL ends "
                                     "in '/'); give a file name as the destination")
            name = posixpath.join(dest, base) if dest_dir else dest
            parents(name)
            items.append(Item(name, host, st, stat.S_IFREG | (chmod or 0o600), uid, gid))
            continue
        if kind == "doc":
            name = posixpath.join(dest, value.name) if dest_dir else dest
            parents(name)
            items.append(Item(name, mode=stat.S_IFREG | (chmod or 0o644), uid=uid, gid=gid,
                              data=value.content.encode()))
            continue
        host, st = tree.literal(value)
        if stat.S_ISDIR(st.st_mode):
            if dest and dest not in made and existing is None:
                parents(dest + "/x")
            for rel, chost, cst in tree.walk(value):
                if rel == value:
                    continue
                entry(posixpath.join(dest, rel[len(value) + 1:] if value else rel), chost, cst)
                if len(items) > MAX_ENTRIES:
                    raise PycontainError(f"COPY of more than {MAX_ENTRIES} entries")
        elif add and stat.S_ISREG(st.st_mode) and _is_archive(host):
            if dest:
                parents(dest + "/x")
            items.append(Item(dest, host, st, archive=True))
        else:
            name = posixpath.join(dest, posixpath.basename(value)) if dest_dir else dest
            entry(name, host, st)
    return items


def digest(items) -> str:
    """What the cache sees of the items: no mtimes."""
    hasher = hashlib.sha256()
    for item in items:
        st = item.st
        line = [item.name, oct(item.mode), item.uid, item.gid, bool(item.archive)]
        if item.data is not None:
            line.append(hashlib.sha256(item.data).hexdigest())
        elif st is not None and stat.S_ISLNK(st.st_mode):
            import os
            line.append("->" + os.readlink(item.host))
        elif st is not None and stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            with open(item.host, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            line += [st.st_size, h.hexdigest()]
        hasher.update(repr(line).encode() + b"\n")
    return "sha256:" + hasher.hexdigest()


def write(items, writer, now: int) -> None:
    for item in items:
        if item.archive:
            _extract(item, writer)
        elif item.data is not None:
            writer.add_bytes(item.name, item.data, item.mode, item.uid, item.gid, now)
        elif item.host is None:
            writer.add_dir(item.name, item.mode, item.uid, item.gid, now)
        else:
            writer.add_path(item.name, item.host, item.st, item.uid, item.gid, item.mode)


def _extract(item, writer) -> None:
    """ADD of a local archive: its members below item.name, read through
    tarsafe (the store's unpacker refuses hostile names later, as for any
    layer)."""
    try:
        with tarsafe.open_file(item.host) as archive:
            for member in archive:
                name = posixpath.normpath(member.name).lstrip("/")
                if name in ("", ".") or name.startswith("../"):
                    continue
                target = posixpath.join(item.name, name) if item.name else name
                if member.islnk():
                    member.linkname = posixpath.join(item.name, member.linkname.lstrip("/"))
                if member.ischr() or member.isblk():
                    continue
                writer.add_member(target, member,
                                  archive.extractfile(member) if member.isreg() else None)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise PycontainError(f"ADD {item.host}: cannot extract ({exc})") from None
