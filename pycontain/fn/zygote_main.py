"""The zygote: a warm Python process in a function's base jail (standalone).

Runs as the jail's first process with the image's `python3 -I -S`, as the
jail's unprivileged user (no capabilities, no_new_privs, a seccomp profile
that lets it create namespaces). It imports the handler once, then per call
clones a child into fresh user, pid, net, ipc, uts and mount namespaces; the
child (PID 1 there) mounts its own /proc, /tmp and /dev/shm, brings up lo,
sets the call's rlimits, drops every capability, installs the strict seccomp
program, runs the handler once and exits. Nothing the handler does survives
the call: the zygote's memory is never written by a call.

Protocol on fd 0 (a SOCK_SEQPACKET socket; one JSON message each):
  engine -> init  {handler, bpf (hex), masked, readonly, tmp_size, rlimits}
  zygote -> {"ready": true, "init_ms"} | {"ready": false, "error": error JSON}
  engine -> call  {id, rid, deadline_ms, timeout} + fds (event, result, log)
  zygote -> done  {id, status (wait status), rss (KiB), timed_out}
The child writes "STATUS RSS\n" + result to its result pipe and closes its
pipes before exiting, so the engine answers without waiting for the exit;
a call that ends otherwise (crash, timeout) is judged by the zygote's report.
"""
import ctypes
import gc
import fcntl
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

import runner

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
CALL_FLAGS = (CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
              | CLONE_NEWNS | signal.SIGCHLD)
SYS_CLONE = {"x86_64": 56, "aarch64": 220}[os.uname().machine]
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = (
    1, 2, 4, 8, 32, 4096, 16384)
PR_SET_DUMPABLE, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 4, 22, 2
CAP_VERSION_3 = 0x20080522

_api = ctypes.PyDLL(None, use_errno=True)  # keeps the GIL held across clone
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_api.syscall.restype = ctypes.c_long


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None) -> None:
    enc = lambda s: s.encode() if s else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
           f"mount {target}")


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Setup:
    """What every call's child does before the handler runs (prepared once)."""

    def __init__(self, init: dict):
        self.init = init
        self.bpf = ctypes.create_string_buffer(bytes.fromhex(init["bpf"]))
        self.fprog = _Fprog(len(self.bpf.raw) // 8, ctypes.addressof(self.bpf))
        self.ids = (os.geteuid(), os.getegid())
        self.no_caps = (ctypes.c_uint32 * 6)()
        self.cap_header = (ctypes.c_uint32 * 2)(CAP_VERSION_3, 0)

    def _write(self, name: str, text: str) -> None:
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)

    def namespaces(self) -> None:
        """Map our own ids in the new user namespace; fresh /proc, /tmp, /dev/shm."""
        _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # to write our own id maps
        uid, gid = self.ids
        self._write("setgroups", "deny")
        self._write("uid_map", f"{uid} {uid} 1")
        self._write("gid_map", f"{gid} {gid} 1")
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        for path in self.init["masked"]:
            if os.path.isdir(path):
                _mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0,mode=0755")
            elif os.path.exists(path):
                _mount("/dev/null", path, None, MS_BIND)
        for path in self.init["readonly"]:
            if os.path.exists(path):
                _mount(path, path, None, MS_BIND | MS_REC)
                _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID
                       | MS_NODEV | MS_NOEXEC)
        _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
               f"mode=1777,size={self.init['tmp_size']}")
        _mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
               "mode=1777,size=65536k")
        _loopback_up()

    def lock_down(self) -> None:
        """rlimits, no capabilities (none gained by exec: no_new_privs), seccomp."""
        for name, soft, hard in self.init["rlimits"]:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        _check(_libc.capset(self.cap_header, self.no_caps), "capset")
        _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self.fprog), 0, 0),
               "seccomp")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", 0x1 | 0x8 | 0x40))  # UP|LOOPBACK|RUNNING


def _clone() -> int:
    """fork(2) into new namespaces, with Python's own before/after-fork steps."""
    _api.PyOS_BeforeFork()
    pid = _api.syscall(SYS_CLONE, CALL_FLAGS, 0, 0, 0, 0)
    err = ctypes.get_errno()
    if pid == 0:
        _api.PyOS_AfterFork_Child()
        return 0
    _api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid


def _child(setup: Setup, handler, call: dict, fds: list) -> None:
    """The call's first process: never returns."""
    status = 125
    try:
        event_fd, result_fd, log_fd, *cgroup_tasks = fds
        for fd in cgroup_tasks:  # join the call's cgroup (see pycontain.fn.call_cgroups)
            os.write(fd, b"0")
            os.close(fd)
        os.dup2(event_fd, 0)  # in place of the zygote's socket: no call may reach it
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.dup2(result_fd, 3)
        os.closerange(4, 1 << 16)
        setup.namespaces()
        event = runner._read_all(0)
        setup.lock_down()
        context = runner.LambdaContext(call["rid"], call["deadline_ms"])
        status, text = runner.invoke(handler, event, context)
        sys.stdout.flush()
        sys.stderr.flush()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        runner._write_all(3, f"{status} {rss}\n{text}".encode())
        os.closerange(1, 4)  # the engine has the outcome now, before this process is torn down
    except BaseException as exc:  # noqa: BLE001 - report in the log, exit without a result
        os.write(2, f"pycontain zygote: call setup failed: {exc!r}\n".encode())
    os._exit(status)


class Zygote:
    """The zygote's loop: clone a child per call, report how each ended."""

    def __init__(self, sock: socket.socket, setup: Setup, handler):
        self.sock, self.setup, self.handler = sock, setup, handler
        self.calls = {}  # pid -> [id, deadline, timed_out]

    def _start(self, call: dict, fds: list) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = _clone()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            os.write(2, f"pycontain zygote: {exc}\n".encode())
            self._send({"id": call["id"], "status": 125 << 8, "rss": 0, "timed_out": False})
            return
        if pid == 0:
            _child(self.setup, self.handler, call, fds)
        for fd in fds:
            os.close(fd)
        self.calls[pid] = [call["id"], time.monotonic() + call["timeout"], False]

    def _send(self, msg: dict) -> None:
        self.sock.send(runner.dumps(msg).encode())

    def _reap(self) -> None:
        while self.calls:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            call = self.calls.pop(pid, None)
            if call is not None:
                self._send({"id": call[0], "status": status, "rss": usage.ru_maxrss,
                            "timed_out": call[2]})

    def _expire(self) -> float | None:
        """Kill calls past their deadline; seconds until the next deadline."""
        now, nearest = time.monotonic(), None
        for pid, call in self.calls.items():
            if call[2]:
                continue
            if call[1] <= now:
                os.kill(pid, signal.SIGKILL)
                call[2] = True
            else:
                nearest = min(nearest or call[1] - now, call[1] - now)
        return nearest

    def run(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        while True:
            ready, _, _ = select.select([self.sock, wake_r], [], [], self._expire())
            if wake_r in ready:
                while True:
                    try:
                        os.read(wake_r, 512)
                    except BlockingIOError:
                        break
                self._reap()
            if self.sock in ready:
                data, fds, _, _ = socket.recv_fds(self.sock, 65536, 3 + 16)
                if not data:
                    return  # the engine went away: PID 1 exits, the kernel kills every call
                self._start(runner.loads(data), fds)


def main() -> int:
    sock = socket.socket(fileno=0)
    sys.stdout.reconfigure(line_buffering=True)
    init = runner.loads(sock.recv(1 << 20))
    start = time.monotonic()
    for key in ("_PYCONTAIN_REQUEST_ID", "_PYCONTAIN_DEADLINE_MS"):
        os.environ.pop(key, None)
    try:
        handler = runner.load_handler(init["handler"], os.environ.get("LAMBDA_TASK_ROOT",
                                                                      runner.TASK_ROOT))
        if len(os.listdir("/proc/self/task")) > 1:
            raise runner.Fault("Runtime.ZygoteUnsupported", "the handler module started "
                               "threads at import: it cannot be forked safely")
    except runner.Fault as fault:
        sock.send(runner.dumps({"ready": False, "error": runner._fault_json(fault, "")}).encode())
        return 1
    sys.stdout.flush()
    gc.freeze()  # the collector of a call's process must not write to every page it shares
    sock.send(runner.dumps({"ready": True,
                            "init_ms": (time.monotonic() - start) * 1000}).encode())
    Zygote(sock, Setup(init), handler).run()
    return 0
