"""The container's terminal, opened inside its own /dev/pts.

With `-t` the container's process opens /dev/ptmx after its root file system
is in place (or, for `exec`, after joining the container's mount namespace),
so its terminal lives in the container's devpts instance and `tty` names a
real /dev/pts/N. The pty master is handed to the engine over a unix socket
(SCM_RIGHTS), as runc's console socket does; the engine proxies it.
"""
import fcntl
import os
import socket
import termios

TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431


def socketpair():
    """(engine end, container end) of the console socket."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def caller_window_size(fd: int = 0) -> bytes | None:
    """Our terminal's size (struct winsize), to give the container's terminal."""
    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None


def become_console_owner(sock_fd: int, winsize: bytes | None) -> None:
    """In the container: open a pty, send its master to the engine and make
    the slave our stdio and controlling terminal (in a new session)."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, b"\0\0\0\0")
    number = int.from_bytes(fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"), "little")
    slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY)
    if winsize:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, winsize)
    with socket.socket(fileno=sock_fd) as sock:
        socket.send_fds(sock, [b"pty"], [master])
    os.close(master)
    os.setsid()
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def receive_master(sock) -> int:
    """In the engine: the pty master the container sent."""
    with sock:
        _, fds, _, _ = socket.recv_fds(sock, 16, 1)
    if not fds:
        raise OSError("the container did not send its terminal")
    return fds[0]
