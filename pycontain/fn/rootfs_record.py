"""Record what building a root file system does, for a planned jail (fn.plan).

`recorded` runs the OCI core's rootfs.setup_rootfs with stand-ins for the
`os` and native modules that oci/rootfs.py and oci/mounts.py use: every call
that changes something
(a mount, a directory, a device node...) is made as usual and noted, with
the paths it ended up using (securejoin has resolved them inside the root
already); what only reads is not noted. Replayed in the same order on the
same image, the ops build the same root (csrc/plan.c does that in C).

Masked and read-only paths are noted as such, not as the mounts they took
here: which of them exist is decided where the plan is replayed (a module
loaded since may have added one).

The core knows nothing of this: the jail's init (fn.jail_init) calls it
instead of the core's root file system step.

    op codes: M mount, u umount2, P pivot_root, D mkdir, A makedirs
    (exist_ok), F open with O_CREAT then close, N mknod, O chown, C chmod,
    L symlink, d chdir, Z masked path, z read-only path (see rootfs.mask_paths)
"""
import os

from pycontain import native as n
from pycontain.oci import mounts, rootfs

PATCHED = (rootfs, mounts)  # the modules whose `os` and `n` are stood in for


class _Ops(list):
    """The ops noted, but while quiet (inside an op noted as a whole)."""
    quiet = False

    def did(self, *op) -> None:
        if not self.quiet:
            self.append(op)


def _noting(code: str, real):
    """A stand-in's method: real(*args), noted as the op code with those args
    (a call that leaves out an argument makes an op the launcher refuses)."""
    def method(self, *args):
        real(*args)
        self._did(code, *args)
    return method


class _Native:
    def __init__(self, ops: _Ops):
        self._did = ops.did

    def __getattr__(self, name):
        return getattr(n, name)

    def mount(self, source, target, fstype=None, flags=0, data=None) -> None:
        n.mount(source, target, fstype, flags, data)
        self._did("M", source, target, fstype, flags, data)

    umount2 = _noting("u", n.umount2)
    pivot_root = _noting("P", n.pivot_root)


class _Os:
    def __init__(self, ops: _Ops):
        self._did = ops.did
        self._directories = {}  # fd of an os.open(".") -> the directory, for fchdir

    def __getattr__(self, name):
        return getattr(os, name)

    def makedirs(self, path, mode=0o777, exist_ok=False) -> None:
        os.makedirs(path, mode, exist_ok)
        self._did("A", path, mode)

    def open(self, path, flags, mode=0o777) -> int:
        fd = os.open(path, flags, mode)
        if flags & os.O_CREAT:
            self._did("F", path, flags, mode)
        elif path == ".":
            self._directories[fd] = os.getcwd()
        return fd

    def fchdir(self, fd) -> None:
        os.fchdir(fd)
        self._did("d", self._directories[fd])

    mkdir = _noting("D", os.mkdir)
    chdir = _noting("d", os.chdir)
    mknod = _noting("N", os.mknod)
    chown = _noting("O", os.chown)
    chmod = _noting("C", os.chmod)
    symlink = _noting("L", os.symlink)


def _masking(ops: _Ops, real):
    """A stand-in for rootfs.mask_paths (real) that notes its paths, not its mounts."""
    def mask_paths(masked, readonly) -> None:
        ops.extend([*(("Z", path) for path in masked), *(("z", path) for path in readonly)])
        ops.quiet = True
        try:
            real(masked, readonly)
        finally:
            ops.quiet = False
    return mask_paths


def recorded(spec: dict, rootfs_path: str, overlay: dict) -> list:
    """rootfs.setup_rootfs(spec, rootfs_path, overlay), and the ops it made."""
    ops = _Ops()
    stand_ins = {"n": _Native(ops), "os": _Os(ops)}
    real_mask_paths = rootfs.mask_paths
    try:
        for module in PATCHED:
            vars(module).update(stand_ins)
        rootfs.mask_paths = _masking(ops, real_mask_paths)
        rootfs.setup_rootfs(spec, rootfs_path, overlay)
    finally:
        for module in PATCHED:
            vars(module).update(n=n, os=os)
        rootfs.mask_paths = real_mask_paths
    return list(ops)
