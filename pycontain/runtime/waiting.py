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
    """Reap our child pid and return its shell-style exit code."""
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
