#!/usr/bin/env python3
"""Build pycontain's bundled default images as OCI image layouts.

    python3 rootfs/build.py OUTDIR [busybox] [python]      (default: both)

writes OUTDIR/busybox and OUTDIR/python, each an OCI image layout holding one
manifest (tag "latest"), one config and one gzip layer. Standard library only.
The root filesystem is assembled as tar entries straight from host files (no
copy on disk), so the script needs no root: only read access to the host files.

Layers are reproducible: entries sorted, owned by root (except /home/app),
generated entries dated SOURCE_DATE_EPOCH (default 0), gzip header mtime 0.
Files copied from the host keep their host mtime: Debian's .pyc files are
timestamp-checked against their .py source, so a fixed mtime would make every
stdlib import recompile. Two builds on the same host are byte-identical.
"""
from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX = "/bin/busybox"
PYTHON = "/usr/bin/python3.11"
STDLIB = "/usr/lib/python3.11"
# Left out of the stdlib: tests, GUI/demo packages, pip bootstrap, and the
# 25 MB config-3.11-* dir (static libpython + Makefile, for building C extensions).
STDLIB_SKIP_TOP = {"idlelib", "tkinter", "turtledemo", "ensurepip", "config-3.11-x86_64-linux-gnu"}
STDLIB_SKIP_DIRS = {"test", "tests", "idle_test"}
TEST_EXTENSION = re.compile(r"test")  # lib-dynload/_testcapi*.so, _ctypes_test*.so ...
ARCHES = {"x86_64": "amd64", "aarch64": "arm64"}

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
GZIP_LEVEL = 6

# (name, uid, gid, home, shell); groups are (name, gid). Same in every image.
USERS = [
    ("root", 0, 0, "/root", "/bin/sh"),
    ("daemon", 1, 1, "/usr/sbin", "/usr/sbin/nologin"),
    ("nobody", 65534, 65534, "/nonexistent", "/bin/false"),
    ("app", 1000, 1000, "/home/app", "/bin/sh"),
]
GROUPS = [("root", 0), ("daemon", 1), ("nogroup", 65534), ("app", 1000)]


class BuildError(Exception):
    """A failure explained in one line for the user."""


@dataclass(frozen=True)
class Entry:
    """One tar entry: a directory, a regular file (host source or data) or a symlink."""

    type: bytes
    mode: int = 0o755
    source: str | None = None
    data: bytes | None = None
    linkname: str = ""
    owner: str = "root"
    mtime: int | None = None  # None: the build epoch


class Tree:
    """A root filesystem as a map of relative path -> Entry, written as a sorted tar."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def has(self, path: str) -> bool:
        """Whether PATH (absolute or relative to the root) already has an entry."""
        return path.strip("/") in self.entries

    def _put(self, path: str, entry: Entry) -> None:
        """Add ENTRY at PATH, creating missing parents; identical re-adds are no-ops."""
        rel = os.path.normpath(path).strip("/")
        parts = rel.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent not in self.entries:
                self.entries[parent] = Entry(tarfile.DIRTYPE)
            elif self.entries[parent].type != tarfile.DIRTYPE:
                raise BuildError(f"cannot add /{rel}: /{parent} is not a directory in the image")
        old = self.entries.get(rel)
        if old is not None and old != entry and not (old.type == entry.type == tarfile.DIRTYPE):
            raise BuildError(f"conflicting entries for /{rel} in the image")
        self.entries[rel] = entry

    def dir(self, path: str, mode: int = 0o755, owner: str = "root") -> None:
        """Add a directory (replacing the mode of an existing one)."""
        self._put(path, Entry(tarfile.DIRTYPE, mode=mode, owner=owner))

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Add a regular file with generated content."""
        self._put(path, Entry(tarfile.REGTYPE, mode=mode, data=data))

    def symlink(self, path: str, target: str) -> None:
        """Add a symlink to TARGET (stored verbatim)."""
        self._put(path, Entry(tarfile.SYMTYPE, mode=0o777, linkname=target))

    def copy_file(self, path: str, source: str) -> None:
        """Add host regular file SOURCE at PATH, keeping its mode and mtime."""
        st = os.stat(source)
        if not stat.S_ISREG(st.st_mode):
            raise BuildError(f"{source}: not a regular file")
        self._put(path, Entry(tarfile.REGTYPE, mode=stat.S_IMODE(st.st_mode),
                              source=source, mtime=int(st.st_mtime)))

    def copy_host(self, path: str, _depth: int = 0) -> None:
        """Mirror host PATH at the same place: every symlink met on the way
        (in any component, e.g. /lib -> usr/lib) and the file or dir it ends at."""
        if _depth > 40:
            raise BuildError(f"{path}: too many levels of symbolic links")
        parts = [p for p in path.split("/") if p not in ("", ".")]
        cur = "/"
        for i, part in enumerate(parts):
            if part == "..":
                cur = os.path.dirname(cur)
                continue
            cur = os.path.join(cur, part)
            if os.path.islink(cur):
                target = os.readlink(cur)
                self.symlink(cur, target)
                rest = os.path.join(os.path.dirname(cur), target, *parts[i + 1:])
                self.copy_host(rest, _depth + 1)
                return
        st = os.lstat(cur)
        if stat.S_ISDIR(st.st_mode):
            self.dir(cur, stat.S_IMODE(st.st_mode))
        else:
            self.copy_file(cur, cur)

    def copy_host_tree(self, root: str, skip) -> None:
        """Mirror the host tree under ROOT, leaving out paths for which
        skip(relative_path) is true."""
        self.copy_host(root)
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            keep = [d for d in dirnames if not skip(os.path.normpath(os.path.join(rel, d)))]
            dirnames[:] = [d for d in keep if not os.path.islink(os.path.join(dirpath, d))]
            for name in sorted(keep + filenames):
                if name in filenames and skip(os.path.normpath(os.path.join(rel, name))):
                    continue
                self.copy_host(os.path.join(dirpath, name))

    def write_tar(self, fileobj, epoch: int) -> None:
        """Write every entry, sorted by path, as a tar stream to FILEOBJ."""
        ids = {name: uid for name, uid, *_ in USERS}
        with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries):
                e = self.entries[path]
                info = tarfile.TarInfo(path)
                info.type, info.mode, info.linkname = e.type, e.mode, e.linkname
                info.uid = info.gid = ids[e.owner]
                info.uname = info.gname = e.owner
                info.mtime = epoch if e.mtime is None else e.mtime
                if e.source is not None:
                    with open(e.source, "rb") as f:
                        info.size = os.fstat(f.fileno()).st_size
                        tar.addfile(info, f)
                elif e.data is not None:
                    info.size = len(e.data)
                    tar.addfile(info, io.BytesIO(e.data))
                else:
                    tar.addfile(info)


class HashingWriter:
    """A write-only file object that passes bytes on while counting and hashing them."""

    def __init__(self, raw) -> None:
        self.raw, self.sha, self.size = raw, hashlib.sha256(), 0

    def write(self, data) -> int:
        """Hash, count and forward DATA."""
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def tell(self) -> int:
        """Bytes written so far (tarfile asks)."""
        return self.size

    def flush(self) -> None:
        """Flush the underlying file."""
        self.raw.flush()

    def digest(self) -> str:
        """The OCI digest of what was written."""
        return "sha256:" + self.sha.hexdigest()


# ---------------------------------------------------------------- image recipes

def skeleton() -> Tree:
    """The directories and account files every bundled image shares."""
    tree = Tree()
    for path in ("etc", "home", "var", "proc", "sys", "dev", "run"):
        tree.dir(path)
    tree.dir("tmp", 0o1777)
    tree.dir("root", 0o700)
    tree.dir("home/app", owner="app")
    passwd = "".join(f"{n}:x:{u}:{g}:{n}:{h}:{s}\n" for n, u, g, h, s in USERS)
    tree.file("etc/passwd", passwd.encode())
    tree.file("etc/group", "".join(f"{n}:x:{g}:\n" for n, g in GROUPS).encode())
    return tree


def is_static_elf(path: str) -> bool:
    """True if PATH is a 64-bit little-endian ELF without a PT_INTERP header."""
    with open(path, "rb") as f:
        header = f.read(64)
        if len(header) < 64 or header[:6] != b"\x7fELF\x02\x01":
            return False
        phoff, = struct.unpack_from("<Q", header, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def busybox_tree() -> Tree:
    """Static busybox with a symlink per applet, plus the shared skeleton."""
    if not os.path.isfile(BUSYBOX) or not is_static_elf(BUSYBOX):
        raise BuildError(f"{BUSYBOX} is missing or not a static binary: apt-get install busybox-static")
    tree = skeleton()
    for path in ("bin", "sbin", "usr/bin", "usr/sbin"):
        tree.dir(path)
    tree.copy_file("bin/busybox", BUSYBOX)
    applets = subprocess.run([BUSYBOX, "--list-full"], check=True, capture_output=True, text=True)
    for applet in applets.stdout.split():
        if not tree.has(applet):
            tree.symlink(applet, "/bin/busybox")
    return tree


def skip_stdlib(rel: str) -> bool:
    """Whether stdlib-relative path REL is left out of the python image."""
    parts = rel.split("/")
    if parts[0] in STDLIB_SKIP_TOP or STDLIB_SKIP_DIRS.intersection(parts):
        return True
    return parts[0] == "lib-dynload" and len(parts) == 2 and bool(TEST_EXTENSION.search(parts[1]))


def shared_libraries(binaries: list[str]) -> list[str]:
    """Every library (and the loader) that ldd reports for BINARIES."""
    try:
        out = subprocess.run(["ldd", *binaries], check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise BuildError("ldd not found: apt-get install libc-bin") from None
    missing = re.findall(r"^\s*(\S+) => not found", out, re.M)
    if missing:
        raise BuildError(f"ldd: libraries not found on the host: {', '.join(sorted(set(missing)))}")
    return sorted(set(re.findall(r"^\s*(?:\S+ => )?(/\S+) \(0x", out, re.M)))


def python_tree() -> Tree:
    """Debian's python3.11, its stdlib and every library they link, plus the skeleton."""
    if not os.path.isfile(PYTHON) or not os.path.isfile(os.path.join(STDLIB, "os.py")):
        raise BuildError(f"{PYTHON} or its stdlib is missing: apt-get install python3.11")
    tree = skeleton()
    tree.copy_host(PYTHON)
    tree.symlink("usr/bin/python3", "python3.11")
    tree.symlink("usr/bin/python", "python3.11")
    tree.copy_host_tree(STDLIB, skip_stdlib)
    dynload = os.path.join(STDLIB, "lib-dynload")
    modules = [os.path.join(dynload, n) for n in sorted(os.listdir(dynload))
               if n.endswith(".so") and not skip_stdlib(f"lib-dynload/{n}")]
    libs = shared_libraries([PYTHON, *modules])
    if not any("/ld-linux" in lib for lib in libs):
        raise BuildError(f"ldd reported no dynamic loader for {PYTHON}")
    for lib in libs:
        tree.copy_host(lib)
    return tree


IMAGES = {
    "busybox": (busybox_tree, ["sh"], [PATH_ENV]),
    "python": (python_tree, ["python3"], [PATH_ENV, "LANG=C.UTF-8"]),
}


# ---------------------------------------------------------------- OCI layout

def canonical_json(obj) -> bytes:
    """Deterministic JSON bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def write_blob(layout: str, data: bytes, media_type: str) -> dict:
    """Store DATA under blobs/sha256 and return its descriptor."""
    hexdigest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", hexdigest), "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": "sha256:" + hexdigest, "size": len(data)}


def write_layer(layout: str, tree: Tree, epoch: int) -> tuple[dict, str, int]:
    """Write TREE as a gzip layer blob; return (descriptor, diff_id, tar size)."""
    blobs = os.path.join(layout, "blobs", "sha256")
    partial = os.path.join(blobs, "layer.partial")
    with open(partial, "wb") as raw:
        packed = HashingWriter(raw)
        with gzip.GzipFile(filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=packed, mtime=0) as gz:
            plain = HashingWriter(gz)
            tree.write_tar(plain, epoch)
    os.rename(partial, os.path.join(blobs, packed.sha.hexdigest()))
    descriptor = {"mediaType": MT_LAYER, "digest": packed.digest(), "size": packed.size}
    return descriptor, plain.digest(), plain.size


def write_layout(layout: str, name: str, tree: Tree, cmd: list[str], env: list[str], epoch: int):
    """Write a complete OCI image layout for TREE into the empty dir LAYOUT.
    Returns (manifest descriptor, layer descriptor, tar size)."""
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    layer, diff_id, tar_size = write_layer(layout, tree, epoch)
    created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    arch = ARCHES.get(os.uname().machine, os.uname().machine)
    config = {
        "created": created,
        "architecture": arch,
        "os": "linux",
        "config": {"Env": env, "Cmd": cmd, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": f"pycontain rootfs/build.py {name}"}],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": write_blob(layout, canonical_json(config), MT_CONFIG),
        "layers": [layer],
    }
    descriptor = write_blob(layout, canonical_json(manifest), MT_MANIFEST)
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [dict(descriptor, platform={"architecture": arch, "os": "linux"},
                           annotations={"org.opencontainers.image.ref.name": "latest"})],
    }
    with open(os.path.join(layout, "index.json"), "wb") as f:
        f.write(canonical_json(index))
    with open(os.path.join(layout, "oci-layout"), "wb") as f:
        f.write(canonical_json({"imageLayoutVersion": "1.0.0"}))
    return descriptor, layer, tar_size


def check_replaceable(dest: str) -> None:
    """Refuse to build over anything but an empty dir or an OCI layout at DEST."""
    if os.path.lexists(dest) and (not os.path.isdir(dest) or os.path.islink(dest) or (
            os.listdir(dest) and not os.path.isfile(os.path.join(dest, "oci-layout")))):
        raise BuildError(f"refusing to replace {dest}: it is not an OCI image layout")


def replace_dir(new: str, dest: str, trash: str) -> None:
    """Move directory NEW to DEST; a previous DEST is moved into TRASH first."""
    if os.path.lexists(dest):
        os.rename(dest, os.path.join(trash, "old"))
    os.rename(new, dest)


def build_image(outdir: str, name: str, epoch: int) -> str:
    """Build image NAME into OUTDIR/NAME via a temp dir that never outlives the call."""
    recipe, cmd, env = IMAGES[name]
    started = time.monotonic()
    dest = os.path.join(outdir, name)
    check_replaceable(dest)
    work = tempfile.mkdtemp(dir=outdir, prefix=f".{name}.build.")
    try:
        layout = os.path.join(work, "layout")
        manifest, layer, tar_size = write_layout(layout, name, recipe(), cmd, env, epoch)
        replace_dir(layout, dest, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return (f"{name} {manifest['digest']} layer {layer['size']} bytes gzip "
            f"({tar_size} bytes tar) {time.monotonic() - started:.1f}s -> {dest}")


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH from the environment, or 0."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "0")
    if not value.isdigit():
        raise BuildError(f"SOURCE_DATE_EPOCH must be a non-negative integer, not {value!r}")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: build the named images, one line each."""
    parser = argparse.ArgumentParser(description="Build pycontain's default OCI images.")
    parser.add_argument("outdir", metavar="OUTDIR")
    parser.add_argument("images", nargs="*", metavar="IMAGE", help=f"any of {', '.join(IMAGES)} (default: all)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally: clean-ups
    try:
        unknown = [n for n in args.images if n not in IMAGES]
        if unknown:
            raise BuildError(f"unknown image {unknown[0]!r}: choose from {', '.join(IMAGES)}")
        epoch = source_date_epoch()
        os.makedirs(args.outdir, exist_ok=True)
        for name in dict.fromkeys(args.images or IMAGES):
            print(build_image(args.outdir, name, epoch), flush=True)
    except (BuildError, OSError, subprocess.CalledProcessError) as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build.py: error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
