"""Waiting for processes and relaying signals to them."""
import os
import _signal as signal  # not `signal`: its enum import costs ~4 ms per start

from pycontain.fdio import readable

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2)


def exit_code(status: int) -> int:
    """A wait status as a shell would report it: the code, or 128+signal."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class SignalWakeup:
    """Python's signal wakeup pipe, for a loop that sleeps in select while
    relayed signals must run: one that lands just before the select wakes it
    (and its handler runs) instead of waiting in python's flag until the next
    event. `fd` is None off the main thread, where no handler of ours runs.
    A class, not contextlib: that import costs ~3 ms on the start path."""

    def __enter__(self):
        self.fd = None
        read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            self._previous = signal.set_wakeup_fd(write_end)
        except ValueError:  # not the main thread
            os.close(read_end)
            os.close(write_end)
            return self
        self.fd, self._write_end = read_end, write_end
        return self

    def readers(self, fds: list) -> list:
        return fds + ([self.fd] if self.fd is not None else [])

    def drain(self) -> None:
        try:
            os.read(self.fd, 512)
        except BlockingIOError:
            pass

    def __exit__(self, *_exc) -> None:
        if self.fd is not None:
            signal.set_wakeup_fd(self._previous)
            os.close(self.fd)
            os.close(self._write_end)


def wait_child(pid: int) -> int:
    """Reap our child pid and return its shell-style exit code, the signals we
    relay (forward_signals) running meanwhile: a blocking waitpid would leave
    one that lands just before it in python's flag, while the child waits for
    that very signal."""
    pidfd = os.pidfd_open(pid)
    try:
        with SignalWakeup() as wake:
            while pidfd not in readable(wake.readers([pidfd])):
                wake.drain()  # the handlers run as select returns
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return exit_code(status)


_relayed_to = []  # the pidfd the installed relay sends to (open while it is installed)


def forward_signals(pid: int) -> None:
    """Relay the usual terminating signals we receive to pid, through a pidfd:
    one that comes after pid was reaped (while we clean up) reaches no process
    that reused its number."""
    pidfd = os.pidfd_open(pid)

    def relay(sig, _frame):
        try:
            signal.pidfd_send_signal(pidfd, sig)
        except ProcessLookupError:
            pass
    for sig in FORWARDED_SIGNALS:
        signal.signal(sig, relay)
    while _relayed_to:  # the relay it replaces is no longer installed
        os.close(_relayed_to.pop())
    _relayed_to.append(pidfd)


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to timeout seconds for any process pid to exit; True if it did."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(readable([fd], timeout))
    finally:
        os.close(fd)
