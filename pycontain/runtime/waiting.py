"""Waiting for processes and relaying signals to them."""
import os
import select
import _signal as signal  # not `signal`: its enum import costs ~4 ms per start

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2)


def exit_code(status: int) -> int:
    """A wait status as a shell would report it: the code, or 128+signal."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def wait_child(pid: int) -> int:
    """Reap our child pid and return its shell-style exit code.

    Signals we relay (forward_signals) must run while we wait: a signal that
    lands just before a blocking waitpid would only trip python's flag, and
    its handler would wait for the child, which waits for the signal. So we
    sleep in select on the child's pidfd and python's signal wakeup pipe."""
    try:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        previous = signal.set_wakeup_fd(wake_w)
    except ValueError:  # not the main thread: no handlers of ours run here anyway
        _, status = os.waitpid(pid, 0)
        return exit_code(status)
    pidfd = os.pidfd_open(pid)
    try:
        while pidfd not in select.select([pidfd, wake_r], [], [])[0]:
            os.read(wake_r, 512)  # the handlers run as select returns
    finally:
        signal.set_wakeup_fd(previous)
        for fd in (pidfd, wake_r, wake_w):
            os.close(fd)
    _, status = os.waitpid(pid, 0)
    return exit_code(status)


def forward_signals(pid: int) -> None:
    """Relay the usual terminating signals we receive to pid."""
    def relay(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    for sig in FORWARDED_SIGNALS:
        signal.signal(sig, relay)


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to timeout seconds for any process pid to exit; True if it did."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)
