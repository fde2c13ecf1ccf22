"""Proxying a container's terminal (see console.py) to the user's."""
import errno
import fcntl
import os
import signal
import termios
import tty as _tty

from pycontain.errors import disk_refused
from pycontain.fdio import readable, write_all
from pycontain.oci.waiting import SignalWakeup


def copy_window_size(master: int, source: int = 0) -> None:
    try:
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def proxy(master: int, out_fd: int, in_fd: int | None) -> None:
    """Copy master -> out_fd (and in_fd -> master) until the container side closes.

    When in_fd is a terminal it is put in raw mode for the session, so keys like
    ctrl-C reach the container's line discipline, and SIGWINCH resizes the pty.
    """
    saved = None
    if in_fd is not None and os.isatty(in_fd):
        saved = termios.tcgetattr(in_fd)
        _tty.setraw(in_fd)
        signal.signal(signal.SIGWINCH, lambda *_: copy_window_size(master, in_fd))
    readers = [master] + ([in_fd] if in_fd is not None else [])
    try:
        with SignalWakeup() as wake:
            _copy(master, out_fd, in_fd, readers, wake)
    finally:
        if saved is not None:
            termios.tcsetattr(in_fd, termios.TCSADRAIN, saved)


def _copy(master: int, out_fd: int, in_fd, readers: list, wake: SignalWakeup) -> None:
    """proxy's loop."""
    while True:
        ready = readable(wake.readers(readers))
        if wake.fd in ready:
            wake.drain()  # a relayed signal's handler has run
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                return
            try:
                write_all(out_fd, data)
            except OSError as exc:  # a detached container's log on a full disk:
                if not disk_refused(exc):  # its output is lost, it runs on
                    raise
        if in_fd is not None and in_fd in ready:
            data = os.read(in_fd, 65536)
            if data:
                write_all(master, data)
            else:
                readers.remove(in_fd)
