"""Attaching to a detached container: its monitor's hub and the client.

A detached container's monitor (engine.container) copies the container's
output (a pipe for stdout and one for stderr, or its terminal) to the log
(engine.logfile) and to
every client connected to a Unix socket in the container's run directory
(`attach.sock`, mode 0600, in a 0700 directory: only its owner connects);
what clients send goes to the container's stdin (a pipe if it was run with
-i, or its terminal). Once the container has exited and its exit has been
recorded, each client gets the exit code.

Monitor -> client: frames, 1 byte kind + 4 byte big-endian length + data:
b"o" stdout, b"e" stderr, b"x" the exit code (decimal). Client -> monitor: raw input; a
client that half-closes its side ends the container's stdin if the container
takes stdin once (`create -i` + `start -ai`, as docker's StdinOnce).

The socket is named through /proc/self/fd/N of the run directory: its full
path may be longer than a socket address allows (108 bytes).
"""
import errno
import os
import socket
import struct
import time

from pycontain.fdio import ready, write_all

SOCKET = "attach.sock"
CHUNK = 1 << 16
MAX_CLIENTS = 32
CLIENT_BUFFER = 1 << 20  # output queued for a client that does not read: beyond it, dropped
DRAIN_SECONDS = 1.0
DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q


def _address(run_dir: str):
    """(dir fd, socket address) naming run_dir/attach.sock through /proc."""
    fd = os.open(run_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return fd, f"/proc/self/fd/{fd}/{SOCKET}"


def listen(run_dir: str) -> socket.socket:
    """The monitor's listening socket (before the container starts)."""
    fd, address = _address(run_dir)
    try:
        try:
            os.unlink(os.path.join(run_dir, SOCKET))  # a previous run's
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            sock.bind(address)
        finally:
            os.umask(old)
        sock.listen(8)
        return sock
    finally:
        os.close(fd)


def _frame(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack(">I", len(data)) + data


class _Client:
    def __init__(self, sock):
        self.sock = sock
        self.out = b""  # frames not sent yet
        self.reading = True  # until its input ends (it may still read output)
        sock.setblocking(False)

    def queue(self, data: bytes) -> bool:
        """False if the client is too far behind (then it is dropped)."""
        self.out += data
        return len(self.out) <= CLIENT_BUFFER

    def flush(self) -> bool:
        """Send what can go now; False if the client is gone."""
        try:
            while self.out:
                self.out = self.out[self.sock.send(self.out):]
        except BlockingIOError:
            pass
        except OSError:
            return False
        return True


class Hub:
    """The monitor's side: listener (from listen); stdin_once: a client's
    end of input ends the container's stdin."""

    def __init__(self, listener, stdin_once: bool):
        self.listener = listener
        self.stdin_once = stdin_once
        self.outputs = {}  # the container's output fds -> "stdout"|"stderr"
        self.in_fd = self.log = None
        self.clients = {}
        self.pending = b""  # input not yet taken by the container
        listener.setblocking(False)

    def accept_first(self, timeout: float) -> None:
        """Wait for one client (start -a: connected before the container starts)."""
        if ready([self.listener.fileno()], (), timeout)[0]:
            self._accept()

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except OSError:
            return
        if len(self.clients) >= MAX_CLIENTS:
            self._drop_hung_up()
        if len(self.clients) >= MAX_CLIENTS:
            sock.close()
            return
        self.clients[sock.fileno()] = _Client(sock)

    def _drop_hung_up(self) -> None:
        """Drop the clients gone altogether (not those that only ended their input)."""
        import select
        poller = select.poll()
        for fd in self.clients:
            poller.register(fd, 0)  # POLLHUP and POLLERR are always reported
        for fd, _ in poller.poll(0):
            self._drop(fd)

    def _drop(self, fd: int) -> None:
        self.clients.pop(fd).sock.close()

    def _output(self, fd: int) -> None:
        """One read of the container's output, kept and passed on; at its
        end, that output is closed."""
        try:
            data = os.read(fd, CHUNK)
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: a terminal whose last user is gone
                raise
            data = b""
        stream = self.outputs[fd]
        if not data:
            if fd != self.in_fd:
                os.close(fd)
            del self.outputs[fd]
            return
        self.log.write(stream, data)
        frame = _frame(b"e" if stream == "stderr" else b"o", data)
        for cfd, client in list(self.clients.items()):
            if not client.queue(frame) or not client.flush():
                self._drop(cfd)

    def _input(self, fd: int) -> None:
        try:
            data = self.clients[fd].sock.recv(CHUNK)
        except OSError:
            data = b""
        if data:
            if self.in_fd is not None:
                self.pending += data
                self._feed()
            return
        self.clients[fd].reading = False
        if self.stdin_once and self.in_fd is not None and not self.pending:
            self._close_stdin()

    def _feed(self) -> None:
        try:
            self.pending = self.pending[os.write(self.in_fd, self.pending):]
        except BlockingIOError:
            pass
        except OSError:
            self.pending = b""
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.in_fd is not None and self.in_fd not in self.outputs:
            os.close(self.in_fd)
        self.in_fd = None

    def run(self, pid: int, outputs: dict, in_fd, log) -> None:
        """Relay until the container (pid) exits, then drain its output.
        outputs: its output fds (pipes or pty master) -> "stdout"|"stderr";
        in_fd: its stdin (pipe, pty master) or None, all ours to close
        (finish); log: the logfile.Writer that keeps the output."""
        self.outputs, self.in_fd, self.log = dict(outputs), in_fd, log
        pidfd = os.pidfd_open(pid)
        try:
            while True:
                readers = [pidfd, self.listener.fileno()] + list(self.outputs)
                if not self.pending:
                    readers += [fd for fd, c in self.clients.items() if c.reading]
                writers = [fd for fd, c in self.clients.items() if c.out]
                if self.pending and self.in_fd is not None:
                    writers.append(self.in_fd)
                got, writable = ready(readers, writers)
                for fd in got:
                    if fd in self.outputs:
                        self._output(fd)
                if self.listener.fileno() in got:
                    self._accept()
                for fd in writable:
                    if fd in self.clients and not self.clients[fd].flush():
                        self._drop(fd)
                if self.in_fd is not None and self.in_fd in writable:
                    self._feed()
                for fd in got:
                    if fd in self.clients:
                        self._input(fd)
                if pidfd in got:
                    break
            deadline = time.monotonic() + DRAIN_SECONDS
            while self.outputs and time.monotonic() < deadline:
                got = ready(list(self.outputs), (), 0)[0]
                if not got:
                    break
                for fd in got:
                    self._output(fd)
        finally:
            os.close(pidfd)
            log.flush()

    def finish(self, code) -> None:
        """Tell every client the exit code; close everything."""
        self.listener.close()
        for fd, client in list(self.clients.items()):
            if code is not None:
                client.queue(_frame(b"x", str(code).encode()))
            client.sock.setblocking(True)
            client.sock.settimeout(2)
            try:
                client.sock.sendall(client.out)
            except OSError:
                pass
            self._drop(fd)
        in_fd, self.in_fd = self.in_fd, None
        for fd in set(self.outputs) | ({in_fd} if in_fd is not None else set()):
            os.close(fd)
        self.outputs = {}


def connect(run_dir: str) -> socket.socket:
    fd, address = _address(run_dir)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock
    finally:
        os.close(fd)


def _frames(buffer: bytearray):
    """Complete frames at the start of buffer (removed from it)."""
    while len(buffer) >= 5:
        size = struct.unpack(">I", buffer[1:5])[0]
        if len(buffer) < 5 + size:
            return
        kind, data = bytes(buffer[:1]), bytes(buffer[5:5 + size])
        del buffer[:5 + size]
        yield kind, data


def client(sock, stdin: int | None, out_fd: int = 1, detach_keys: bytes = b"",
           err_fd: int = 2):
    """Relay until the container exits (its code) or the user types
    detach_keys (None). stdin: our input to send, or None; its stdout goes
    to out_fd, its stderr to err_fd."""
    from pycontain.oci.waiting import SignalWakeup

    buffer = bytearray()
    typed = b""
    with SignalWakeup() as wake:
        while True:
            readers = [sock.fileno()] + ([stdin] if stdin is not None else [])
            got = ready(wake.readers(readers))[0]
            if wake.fd in got:
                wake.drain()
            if stdin is not None and stdin in got:
                data = os.read(stdin, CHUNK)
                if not data:
                    sock.shutdown(socket.SHUT_WR)
                    stdin = None
                elif detach_keys and (typed + data).endswith(detach_keys):
                    return None
                else:
                    typed = (typed + data)[-len(detach_keys):] if detach_keys else b""
                    sock.sendall(data)
            if sock.fileno() in got:
                data = sock.recv(CHUNK)
                if not data:
                    return "gone"
                buffer += data
                for kind, payload in _frames(buffer):
                    if kind in (b"o", b"e"):
                        write_all(out_fd if kind == b"o" else err_fd, payload)
                    elif kind == b"x":
                        return int(payload)
