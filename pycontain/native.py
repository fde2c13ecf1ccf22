"""Thin, checked wrappers over the C extension (csrc/native.c)."""
import os

from pycontain._native import ffi, lib
from pycontain.namespaces import (CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET,  # noqa: F401
                                  CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS,
                                  NAMESPACES)


MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4


def _check(result: int, what: str, path=None) -> None:
    if result < 0:
        err = ffi.errno
        raise OSError(err, f"{what}: {os.strerror(err)}", path)


def unshare(flags: int) -> None:
    _check(lib.pyc_unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(lib.pyc_setns(fd, nstype), "setns")


def mount(source, target, fstype=None, flags=0, data=None) -> None:
    enc = lambda s: ffi.NULL if s is None else os.fsencode(s)  # noqa: E731
    _check(lib.pyc_mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
           f"mount {fstype or 'bind'} on {target}", target)


def umount2(target, flags: int = 0) -> None:
    _check(lib.pyc_umount2(os.fsencode(target), flags), f"umount {target}", target)


def pivot_root(new_root, put_old) -> None:
    _check(lib.pyc_pivot_root(os.fsencode(new_root), os.fsencode(put_old)), "pivot_root")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(lib.pyc_sethostname(raw, len(raw)), "sethostname")


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    result = lib.pyc_prctl(option, a2, a3, a4, a5)
    _check(result, "prctl")
    return result


def seccomp_load(program: bytes) -> None:
    """Install a raw BPF seccomp filter (see pycontain/oci/security/seccomp.py)."""
    _check(lib.pyc_seccomp_load(program, len(program)), "seccomp")


def bpf_device_attach(cgroup_fd: int, program: bytes) -> None:
    """Load a device cgroup eBPF program (8-byte instructions) and attach it
    to the cgroup v2 directory cgroup_fd (see pycontain/oci/cgroups/devices.py)."""
    _check(lib.pyc_bpf_device_attach(cgroup_fd, program, len(program) // 8),
           "attach the device cgroup program")


def loopback_up() -> None:
    _check(lib.pyc_loopback_up(), "bring up lo")


def jail_check(data: bytes) -> bool:
    """Whether data is a sound jail description (pycontain/fn/oneshot/describe.py)."""
    return lib.pyc_jail_check(data, len(data)) == 0


def jail_spawn(data: bytes, event: int, result: int, log: int, go: int, err: int) -> int:
    """Build the jail data describes in a child, PID 1 of a new pid namespace
    (csrc/jail_exec.c), which execs its last op with event on fd 0, result
    on 1, log on 2 and go on 3; err stays open until that exec, and gets
    "CODE:message" if the jail fails (the child then exits with CODE). The
    child's pid; OSError (EINVAL for an unsound description) if none. Safe
    from many threads at once (fn serve's workers start zygotes so): the
    executor keeps the description it loaded in statics, and csrc/native.c
    holds a lock from the load to the fork (the GIL is released meanwhile)."""
    pid = lib.pyc_jail_spawn(data, len(data), event, result, log, go, err)
    _check(pid, "start the jail")
    return pid
