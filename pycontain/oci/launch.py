"""The engine's handle on a container process created but not yet running its
command (see oci.process): the go-ahead steps, the failure report, abort.

Apart from process.py so that a caller that only hands over to such a process
(one started by someone else) needs none of the native modules.
"""
import os
import _signal as signal  # not `signal`: its enum import costs ~4 ms per start

from pycontain.errors import PycontainError

class Launch:
    """A container process created but not yet running its command."""

    def __init__(self, pid: int, go_fd: int, err_fd: int, console=None):
        self.pid = pid
        self._go_fd = go_fd
        self._err_fd = err_fd
        self._console = console
        self._begun = False
        self.master = None  # with a terminal: the pty master, once started

    def _go(self, step: bytes) -> None:
        if self._go_fd is None:
            return  # a process that needs no go-ahead (started by someone else)
        try:
            os.write(self._go_fd, step)
        except BrokenPipeError:
            pass  # it failed already: start() reads why

    def begin(self) -> None:
        """Let the process build its root file system while we attach it."""
        if not self._begun:
            self._begun = True
            self._go(b"1")

    def start(self) -> None:
        """Let the process finish its set-up and exec; raise if that fails."""
        self.begin()
        self._go(b"2")
        if self._go_fd is not None:
            os.close(self._go_fd)
            self._go_fd = None  # closed: its number may be another file's soon
        report = b""
        if self._err_fd is not None:  # None: its command runs already (started by someone else)
            with os.fdopen(self._err_fd, "rb") as err:
                self._err_fd = None
                report = err.read()
        if report:
            os.waitpid(self.pid, 0)
            code, _, message = report.decode(errors="replace").partition(":")
            raise PycontainError(message, int(code))
        if self._console is not None:
            from pycontain.oci.console import receive_master
            console, self._console = self._console, None
            self.master = receive_master(console)

    def abort(self) -> None:
        """Kill the process before it ever ran its command."""
        for fd in (self._go_fd, self._err_fd):
            if fd is not None:  # None: closed by start(), or no go-ahead pipe
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._go_fd = self._err_fd = None
        if self._console is not None:
            self._console.close()
        if self.pid <= 0:
            return  # never forked
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
