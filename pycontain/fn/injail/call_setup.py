"""A call's jail inside a function's zygote (standalone, beside zygote_main
in the jail's /var/runtime): what each spare does before it may take a call
(Setup), and clone(2) with Python's fork steps (clone). The standard library only.
"""
import _signal
import ctypes
import fcntl
import os
import resource
import struct
import _socket

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
CLONE_PARENT = 0x8000
# the parent creates only the cheap ones; the child unshares the rest itself, in parallel
CLONE_FLAGS = CLONE_NEWUSER | CLONE_NEWPID | _signal.SIGCHLD
UNSHARE_FLAGS = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS
SYS_CLONE = {"x86_64": 56, "aarch64": 220}[os.uname().machine]
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND = 1, 2, 4, 8, 4096
PR_SET_DUMPABLE, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 4, 22, 2
CAP_VERSION_3 = 0x20080522

# No use_errno: it makes every call swap errno through the thread state's dict,
# whose pages a fresh child would copy; errno is read only after a failure.
_api = ctypes.PyDLL(None)  # keeps the GIL held across clone
_libc = ctypes.CDLL(None)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_api.syscall.restype = ctypes.c_long
_libc.__errno_location.restype = ctypes.c_void_p
_errno = ctypes.c_int.from_address(_libc.__errno_location())  # one thread: one errno
# looked up here, not first in each spare (a lookup makes and caches an object)
_prctl, _capset, _unshare, _mount = _libc.prctl, _libc.capset, _libc.unshare, _libc.mount


def _fail(what: str):
    err = _errno.value
    raise OSError(err, f"{what}: {os.strerror(err)}")


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Setup:
    """What every spare does before it may take a call, prepared once in the
    zygote: a spare runs as little Python as it can (each page it touches is
    a copy-on-write fault)."""

    def __init__(self, init: dict):
        self.bpf = ctypes.create_string_buffer(bytes.fromhex(init["bpf"]))
        self.fprog = _Fprog(len(self.bpf.raw) // 8, ctypes.addressof(self.bpf))
        self.fprog_ref = ctypes.byref(self.fprog)
        uid, gid = os.geteuid(), os.getegid()
        self.id_maps = ((b"/proc/self/setgroups", b"deny"),
                        (b"/proc/self/uid_map", f"{uid} {uid} 1".encode()),
                        (b"/proc/self/gid_map", f"{gid} {gid} 1".encode()))
        self.mounts = _call_mounts(init["masked"], init["tmp_size"])
        self.rlimits = [(getattr(resource, name), (soft, hard))
                        for name, soft, hard in init["rlimits"]]
        self.no_caps = (ctypes.c_uint32 * 6)()
        self.cap_header = (ctypes.c_uint32 * 2)(CAP_VERSION_3, 0)
        self.lo_up = struct.pack("16sH14x", b"lo", 0x1 | 0x8 | 0x40)  # UP|LOOPBACK|RUNNING
        self.unshare = UNSHARE_FLAGS & ~CLONE_NEWNET if init.get("network") else UNSHARE_FLAGS

    def namespaces(self) -> None:
        """Map our own ids in the new user namespace, unshare the other
        namespaces, mount a fresh /proc (masked), /tmp and /dev/shm, lo up."""
        _prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # to write our own id maps
        for path, text in self.id_maps:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, text)
            except OSError as exc:  # named in the zygote's log (EPERM alone says nothing)
                raise OSError(exc.errno, f"write {path.decode()}: {exc.strerror}") from None
            finally:
                os.close(fd)
        if _unshare(self.unshare):
            _fail("unshare")
        for args in self.mounts:
            if _mount(*args):
                _fail(f"mount {args[1].decode()}")
        if self.unshare & CLONE_NEWNET:
            s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
            fcntl.ioctl(s.fileno(), 0x8914, self.lo_up)  # SIOCSIFFLAGS
            s.close()

    def lock_down(self) -> None:
        """rlimits, no capabilities (none gained by exec: no_new_privs), seccomp."""
        for which, limits in self.rlimits:
            resource.setrlimit(which, limits)
        _prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        if _capset(self.cap_header, self.no_caps):
            _fail("capset")
        if _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self.fprog_ref, 0, 0):
            _fail("seccomp")


def _call_mounts(masked: list, tmp_size: str) -> list:
    """mount(2) arguments for a call's jail: a fresh /proc with those of
    docker's masked paths this kernel has (looked up once: the jail's /proc is
    the same kernel's), /tmp and /dev/shm. Not docker's read-only re-binds of
    /proc/sys, /proc/bus ...: they stop writes that take capabilities or the
    host's root, and a call has neither (rootless, its capabilities were only
    ever in its own namespaces, which die with it)."""
    plain = MS_NOSUID | MS_NODEV | MS_NOEXEC
    masks = [(b"tmpfs", p.encode(), b"tmpfs", MS_RDONLY, b"size=0,mode=0755") if os.path.isdir(p)
             else (b"/dev/null", p.encode(), None, MS_BIND, None)
             for p in masked if os.path.exists(p)]
    tmp = f"mode=1777,size={tmp_size}".encode()
    return [(b"proc", b"/proc", b"proc", plain, None), *masks,
            (b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, tmp),
            (b"shm", b"/dev/shm", b"tmpfs", plain, b"mode=1777,size=65536k")]


def clone(flags: int) -> int:
    """clone(2) as fork(2) (into new namespaces as flags say), with Python's own
    before/after-fork steps. glibc's cached thread id is not updated by a raw
    clone: it stays the zygote's, 1, which is right in a spare (PID 1 of its own
    pid namespace, where raise() and abort() signal it); the forker, the one
    child for which it is wrong, never signals itself."""
    _api.PyOS_BeforeFork()
    pid = _api.syscall(SYS_CLONE, flags, 0, 0, 0, 0)
    err = _errno.value
    if pid == 0:
        _api.PyOS_AfterFork_Child()
        return 0
    _api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid
