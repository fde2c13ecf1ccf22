"""A container process's stdio without a terminal: pipes the engine copies.

The process never gets a descriptor of the caller's: through its own
/proc/self/fd/N it could open that file again (read a file the caller's
output is appended to, write to the caller's input...). As docker and podman
do, it gets a pipe for stdout and one for stderr, which the engine copies to
its own fds 1 and 2, and for stdin either /dev/null or (-i) a pipe the engine
feeds from its fd 0, closed when that reaches end of file. Where stdout and
stderr go to one file anyway (a terminal, `2>&1`, a detached container's
log), one pipe serves both, which keeps their lines in the order written.

The copy lasts until the process exits; what it wrote before is drained.
A destination that fails (a reader gone: EPIPE) closes its pipe, so the
process gets SIGPIPE/EPIPE on its next write, as when it wrote there itself.
"""
import os
import time

from pycontain.fdio import readable, ready
from pycontain.oci.waiting import SignalWakeup

CHUNK = 1 << 16
DRAIN_SECONDS = 1.0  # after the exit: what a process left behind that still writes gets


def same_file(fd: int, other: int) -> bool:
    """Whether two of our fds are one file (then one pipe serves both)."""
    try:
        mine, theirs = os.fstat(fd), os.fstat(other)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


class Pipes:
    """theirs: the process's fds 0, 1, 2 (to hand to spawn, then close_theirs);
    the engine's ends, all close-on-exec. merged: one pipe for stdout and
    stderr, copied to the out_fd that relay is given."""

    def __init__(self, interactive: bool, merged: bool = False):
        self.stdin = self.stderr = None  # our ends of the stdin (-i) and stderr pipes
        fds = []
        try:
            if interactive:
                in_r, self.stdin = os.pipe2(os.O_CLOEXEC)
                fds += (in_r, self.stdin)
                os.set_blocking(self.stdin, False)  # a process not reading must not stall us
            else:
                in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
                fds.append(in_r)
            self.stdout, out_w = os.pipe2(os.O_CLOEXEC)
            fds += (self.stdout, out_w)
            err_w = out_w
            if not merged:
                self.stderr, err_w = os.pipe2(os.O_CLOEXEC)
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        self.theirs = (in_r, out_w, err_w)

    def close_theirs(self) -> None:
        """Once the process has them: ours close, so ends of file come through."""
        for fd in set(self.theirs):
            os.close(fd)
        self.theirs = ()

    def close(self) -> None:
        """Every fd still open (after relay, or on failure)."""
        self.close_theirs()
        for fd in (self.stdin, self.stdout, self.stderr):
            if fd is not None:
                os.close(fd)
        self.stdin = self.stdout = self.stderr = None

    def relay(self, pid: int, out_fd: int = 1, err_fd: int = 2, in_fd: int = 0) -> None:
        """Copy stdout to out_fd and stderr to err_fd (and in_fd to stdin, with
        -i) until pid exits; relayed signals' handlers run meanwhile. Closes
        our ends."""
        outputs = {self.stdout: out_fd}
        if self.stderr is not None:
            outputs[self.stderr] = err_fd
        copy = _Copy(outputs, (in_fd, self.stdin) if self.stdin is not None else None)
        pidfd = os.pidfd_open(pid)
        try:
            with SignalWakeup() as wake:
                copy.run(pidfd, wake)
        finally:
            os.close(pidfd)
            self.stdin = self.stdout = self.stderr = None
            copy.close()


def _write_all(fd: int, data: bytes) -> None:
    """write_all, also to an fd a caller made non-blocking (a shared terminal)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            ready((), [fd])


class _Copy:
    """Relay's state: output pipe -> destination, and the stdin feed."""

    def __init__(self, outputs: dict, stdin):
        self.outputs = outputs
        self.feed_from, self.feed_to = stdin if stdin else (None, None)
        self.pending = b""  # read from feed_from, not yet taken by the pipe

    def run(self, pidfd: int, wake: SignalWakeup) -> None:
        while True:
            readers = list(self.outputs) + [pidfd]
            if self.feed_from is not None and not self.pending:
                readers.append(self.feed_from)
            writers = [self.feed_to] if self.pending else []
            got, writable = ready(wake.readers(readers), writers)
            if wake.fd in got:
                wake.drain()  # a relayed signal's handler has run
            for fd in got:
                if fd in self.outputs:
                    self._copy_out(fd)
            if writable:
                self._feed()
            if self.feed_from in got:
                self._read_feed()
            if pidfd in got:
                self._drain()
                return

    def _copy_out(self, fd: int) -> None:
        """One read from an output pipe, written on; closed at its end."""
        data = os.read(fd, CHUNK)
        if data:
            try:
                _write_all(self.outputs[fd], data)
                return
            except OSError:
                pass  # its reader is gone: so is the pipe, for the process too (EPIPE)
        os.close(fd)
        del self.outputs[fd]

    def _drain(self) -> None:
        """After the exit: what the pipes still hold (bounded in time, for a
        process left behind that keeps writing)."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while self.outputs and time.monotonic() < deadline:
            got = readable(list(self.outputs), 0)
            if not got:
                return
            for fd in got:
                self._copy_out(fd)

    def _read_feed(self) -> None:
        """One read from our input: passed on, or at its end the pipe closed (EOF)."""
        try:
            self.pending = os.read(self.feed_from, CHUNK)
        except OSError:
            self.pending = b""
        if self.pending:
            self._feed()
        else:
            self._close_feed()

    def _feed(self) -> None:
        try:
            self.pending = self.pending[os.write(self.feed_to, self.pending):]
        except BlockingIOError:
            return
        except OSError:  # the process closed its stdin (EPIPE): stop reading ours
            self.pending = b""
            self._close_feed()

    def _close_feed(self) -> None:
        if self.feed_to is not None:
            os.close(self.feed_to)
            self.feed_to = None
        self.feed_from = None

    def close(self) -> None:
        self._close_feed()
        for fd in self.outputs:
            os.close(fd)
        self.outputs = {}
