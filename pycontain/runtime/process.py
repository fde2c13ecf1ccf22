"""Create a process in new namespaces and hand it over to the engine.

The engine (which becomes a child subreaper) forks a short-lived helper; the
helper unshares the namespaces and forks the container's first process, whose
pid it reports before exiting, so that process (PID 1 of the new pid
namespace) is re-parented to the engine. The new process then waits on a pipe
until the engine has attached it to cgroups, networks and so on (`start`).
"""
import os
import _signal as signal  # not `signal`: its enum import costs ~4 ms per start

from pycontain import native as n
from pycontain.errors import ENGINE, PycontainError


def _stdio_setup(stdio, tty: bool):
    def setup():
        os.setsid()
        for target, fd in enumerate(stdio):
            if fd is not None and fd != target:
                os.dup2(fd, target)
        if tty:
            import fcntl
            import termios
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    return setup


def namespace_flags(spec: dict) -> int:
    """unshare(2) flags for the spec's namespaces that have no path to join."""
    flags = 0
    for ns in spec.get("linux", {}).get("namespaces", ()):
        if not ns.get("path"):
            flags |= n.NAMESPACES[ns["type"]][0]
    return flags


def join_namespaces(pid: int) -> None:
    """setns into every namespace of pid that differs from ours (mount last)."""
    fds = []
    for oci_type in ("user", "cgroup", "ipc", "uts", "network", "pid", "mount"):
        name = n.NAMESPACES[oci_type][1]
        theirs = f"/proc/{pid}/ns/{name}"
        if os.stat(theirs).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
            fds.append(os.open(theirs, os.O_RDONLY | os.O_CLOEXEC))
    for fd in fds:
        n.setns(fd, 0)
        os.close(fd)


class Launch:
    """A container process created but not yet running its command."""

    def __init__(self, pid: int, go_fd: int, err_fd: int):
        self.pid = pid
        self._go_fd = go_fd
        self._err_fd = err_fd

    def start(self) -> None:
        """Let the process set itself up and exec; raise if that fails."""
        try:
            os.write(self._go_fd, b"1")
        except BrokenPipeError:
            pass
        os.close(self._go_fd)
        with os.fdopen(self._err_fd, "rb") as err:
            report = err.read()
        if report:
            os.waitpid(self.pid, 0)
            code, _, message = report.decode(errors="replace").partition(":")
            raise PycontainError(message, int(code))

    def abort(self) -> None:
        """Kill the process before it ever ran its command."""
        for fd in (self._go_fd, self._err_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def spawn(spec: dict, ctx: dict, stdio=(None, None, None), tty: bool = False,
          join_pid: int = 0) -> Launch:
    """Fork the container's first process in new namespaces (or, with join_pid,
    a process inside that container's namespaces); see the module doc."""
    from pycontain.runtime.nsinit import container_main

    n.prctl(n.PR_SET_CHILD_SUBREAPER, 1)
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid_r, pid_w = os.pipe()
    ctx = dict(ctx, setup_stdio=_stdio_setup(stdio, tty))
    helper = os.fork()
    if helper == 0:
        try:
            os.close(go_w)
            os.close(err_r)
            os.close(pid_r)
            if join_pid:
                join_namespaces(join_pid)
            else:
                n.unshare(namespace_flags(spec))
            child = os.fork()
            if child == 0:
                os.close(pid_w)
                container_main(spec, ctx, go_r, err_w)
            os.write(pid_w, str(child).encode())
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001 - forked child: report and exit
            os.write(pid_w, f"error:{exc}".encode(errors="replace"))
            os._exit(ENGINE)
    for fd in (go_r, err_w, pid_w):
        os.close(fd)
    with os.fdopen(pid_r, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(helper, 0)
    if not answer.isdigit():
        os.close(go_w)
        os.close(err_r)
        raise PycontainError(f"cannot create namespaces: {answer.partition(':')[2]}")
    return Launch(int(answer), go_w, err_r)
