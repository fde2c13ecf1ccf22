"""A bounded HTTP/1.1 server (fn serve's). One thread, the loop, holds every
connection in a selector (epoll), reads, and parses with h11; a request
received whole goes to one of a bounded pool of worker threads, which runs
the app, sends the answer itself and hands the connection back to the loop
(under a mutex the loop holds while it handles what select() returned: no
wake-up of the loop stands between an answer and the next request).

What a client can make it do is bounded:
- parsing is h11's, strict (RFC 9112): a bad Content-Length (-1, abc, "1, 2"),
  a transfer coding other than chunked, or a request line and headers over
  MAX_HEAD bytes or MAX_FIELDS fields get 400/501/431, and the connection is closed;
- Transfer-Encoding with Content-Length gets 400 and close (RFC 9112 6.1 lets
  a server refuse it; a proxy in front may have framed it the other way);
- a body over max_body (its declared length, or its chunks counted as they
  arrive) gets 413 at once, and close: it is never held; body_limit may
  allow a route more (code uploads), and then at most max_uploads bodies
  over max_body are held at once (429 past that);
- a request must arrive whole within read_timeout seconds of its first byte,
  else 408 and close (slow clients); an idle connection is closed after
  keepalive_timeout seconds;
- at most max_connections at once: past that the longest idle one is closed
  for the newcomer, and with none idle newcomers wait in the listen backlog;
- the app runs only on a request received whole, on one of `workers` threads;
  a request that waited queue_timeout seconds for one is answered 429.
A connection that is closed after an answer is drained for up to LINGER
seconds first, so its client reads the answer rather than a reset.
"""
import os
import selectors
import socket
import threading
import time
import traceback
from urllib.parse import urlsplit

import h11

from pycontain.fn.server.http_messages import (BUSY, CLOSED, IDLE, LINGERING, MAX_FIELDS,
                                               MAX_HEAD, READING, WRITING, Request, Response,
                                               _Conn, rendered)
from pycontain.fn.server.workers import Workers

LINGER = 2.0          # seconds a closing connection's remaining input is read and dropped
SWEEP = 0.25          # seconds between checks of the connections' deadlines
RECV = 256 * 1024


class HttpServer:
    """app(request) -> Response runs on a worker thread; error(status, message,
    target) -> Response shapes the answers the server gives itself (400, 408,
    413, 429...; target: the request's, "" before it is known).
    body_limit(method, target) -> None (max_body applies) or (a larger limit,
    a function that returns the 413 Response for a body over it)."""

    def __init__(self, sock, app, error, log, *, workers: int, max_connections: int,
                 read_timeout: float, keepalive_timeout: float, queue_timeout: float,
                 max_body: int, peer_ok=lambda host: True, body_limit=None,
                 max_uploads: int = 2):
        self.listener, self.app, self.error, self.log = sock, app, error, log
        self.max_connections, self.read_timeout = max_connections, read_timeout
        self.keepalive_timeout, self.queue_timeout = keepalive_timeout, queue_timeout
        self.max_body, self.peer_ok = max_body, peer_ok
        self.body_limit, self.max_uploads, self.uploads = body_limit, max_uploads, 0
        sock.setblocking(False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(sock, selectors.EVENT_READ, None)
        self.accepting, self.retry_accept = True, 0.0
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.sel.register(self._wake_r, selectors.EVENT_READ, self)
        self._mutex = threading.Lock()  # connections, registrations, states and busy
        self.conns, self.idle = {}, {}  # fd -> _Conn; idle: longest idle first
        self.busy = 0  # requests handed to the app and not answered yet
        self.workers = Workers(workers, "call")
        self.stopping = self._stopped = False

    # -- the loop's thread ------------------------------------------------------
    def serve_forever(self) -> None:
        next_sweep = time.monotonic() + SWEEP
        while not self._stopped:
            ready = self.sel.select(SWEEP)
            with self._mutex:
                for key, _ in ready:
                    self._handle(key.data)
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + SWEEP
        with self._mutex:
            for conn in list(self.conns.values()):
                self._close(conn)
            self.sel.close()

    def _handle(self, conn) -> None:
        """A ready descriptor (its registration at the time of select())."""
        try:
            if conn is None:
                self._accept()
            elif conn is self:
                self._drain_wake()
            elif conn.state == WRITING:
                self._write(conn)
            elif conn.state not in (CLOSED, BUSY):  # else closed earlier in this batch,
                self._read(conn)  # or handed to a worker since select()
        except Exception:  # noqa: BLE001 - a bug: drop that connection, keep serving
            self.log(f"pycontain fn serve: connection failed:\n{traceback.format_exc()}")
            if isinstance(conn, _Conn) and conn.state != BUSY:
                self._close(conn)

    def _accept(self) -> None:
        while True:
            full = len(self.conns) >= self.max_connections
            if full and not self.idle:
                return self._pause_accepting(0.0)  # newcomers wait in the listen backlog
            try:
                sock, address = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # out of descriptors (EMFILE), or the peer gave up
                self.log(f"pycontain fn serve: accept: {exc}\n")
                return self._pause_accepting(time.monotonic() + SWEEP)
            if not self.peer_ok(address[0]):
                sock.close()
                continue
            if full:  # the longest idle connection makes room
                self._close(next(iter(self.idle.values())))
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock, address[0])
            self.conns[sock.fileno()] = conn
            self._idle(conn, time.monotonic())

    def _pause_accepting(self, until: float) -> None:
        if self.accepting:
            self.sel.unregister(self.listener)
            self.accepting = False
        self.retry_accept = until

    def _resume_accepting(self, now: float) -> None:
        if not self.accepting and not self.stopping and now >= self.retry_accept and \
                (len(self.conns) < self.max_connections or self.idle):
            self.sel.register(self.listener, selectors.EVENT_READ, None)
            self.accepting = True

    def _watch(self, conn: _Conn, events: int) -> None:
        if events == conn.events:
            return
        if not events:
            self.sel.unregister(conn.sock)
        elif conn.events:
            self.sel.modify(conn.sock, events, conn)
        else:
            self.sel.register(conn.sock, events, conn)
        conn.events = events

    def _idle(self, conn: _Conn, now: float) -> None:
        conn.state, conn.deadline = IDLE, now + self.keepalive_timeout
        self.idle[conn.sock.fileno()] = conn
        self._watch(conn, selectors.EVENT_READ)
        if self.stopping:
            self._close(conn)
        self._resume_accepting(now)  # at the bound, an idle connection can make room

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(RECV)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data or conn.state == LINGERING:
            if not data:  # a request cut short is dropped: the app never sees it
                self._close(conn)
            return
        if conn.state == IDLE:
            self._start(conn, time.monotonic())
        conn.h.receive_data(data)
        self._parse(conn)

    def _start(self, conn: _Conn, now: float) -> None:
        """A request's first byte is in: it has read_timeout to arrive whole."""
        del self.idle[conn.sock.fileno()]
        conn.state, conn.started, conn.line = READING, now, "-"
        conn.method, conn.target, conn.too_large = "", "", None
        conn.deadline = now + self.read_timeout

    def _parse(self, conn: _Conn) -> None:
        h = conn.h
        while conn.state == READING:
            try:
                event = h.next_event()
            except h11.RemoteProtocolError as exc:
                return self._refuse(conn, exc.error_status_hint, f"malformed HTTP request: {exc}")
            kind = type(event)
            if kind is h11.Data:
                self._data(conn, event.data)
            elif kind is h11.Request:
                self._head(conn, event)
            elif kind is h11.EndOfMessage:
                self._dispatch(conn)
            else:  # NEED_DATA (h11.ConnectionClosed cannot come: EOF is never fed)
                return

    def _head(self, conn: _Conn, event) -> None:
        conn.method, target = event.method.decode(), event.target.decode()
        conn.line = f"{conn.method} {target} HTTP/{event.http_version.decode()}"
        try:
            urlsplit(target)  # what the apps do with it: a target it refuses is refused here
        except ValueError as exc:
            return self._refuse(conn, 400, f"malformed HTTP request target: {exc}")
        conn.target = target
        names = [name for name, _ in event.headers]
        size = len(event.target) + sum(len(name) + len(value) for name, value in event.headers)
        if len(names) > MAX_FIELDS or size > MAX_HEAD:  # h11 checks the size of heads
            return self._refuse(conn, 431, f"more than {MAX_FIELDS} header fields or "
                                           f"{MAX_HEAD} bytes")  # that come in parts only
        if b"transfer-encoding" in names and b"content-length" in names:
            return self._refuse(conn, 400, "malformed HTTP request: Transfer-Encoding together "
                                           "with Content-Length (RFC 9112 section 6.1)")
        length = dict(event.headers).get(b"content-length")
        conn.limit, conn.too_large = (
            self.body_limit and self.body_limit(conn.method, target)) or (self.max_body, None)
        if length is not None and int(length) > conn.limit:
            return self._too_large(conn)
        if conn.limit > self.max_body and (length is None or int(length) > self.max_body):
            if self.uploads >= self.max_uploads:
                return self._refuse(conn, 429, f"{self.max_uploads} uploads over "
                                               f"{self.max_body} bytes are in progress")
            self.uploads, conn.upload = self.uploads + 1, True
        conn.request, conn.body, conn.size = Request(event, conn.peer), [], 0
        if conn.h.client_is_waiting_for_100_continue:
            self._send_now(conn, conn.h.send(h11.InformationalResponse(
                status_code=100, headers=[], reason=b"Continue")))

    def _data(self, conn: _Conn, data) -> None:
        conn.size += len(data)
        if conn.size > conn.limit:  # chunked: counted as it arrives
            return self._too_large(conn)
        conn.body.append(data)

    def _too_large(self, conn: _Conn) -> None:
        """413, as the request's operation answers it if it has its own limit."""
        self._refuse(conn, 413, f"the body is over {conn.limit} bytes",
                     conn.too_large and conn.too_large())

    def _dispatch(self, conn: _Conn) -> None:
        request, conn.request = conn.request, None
        request.body, conn.body = b"".join(conn.body), []
        conn.state, conn.deadline = BUSY, None
        self._watch(conn, 0)
        self.busy += 1
        queued = time.monotonic() if self.busy > self.workers.size else None
        self.workers.submit(self._work, conn, request, queued)

    def _refuse(self, conn: _Conn, status: int, message: str, response=None) -> None:
        """Answer a request the app will not see, then close the connection."""
        conn.close = True
        response = response or self.error(status, message, conn.target)
        self._access(conn, response)
        self._respond(conn, response)

    def _respond(self, conn: _Conn, response: Response) -> None:
        self._render(conn, response)
        self._send(conn)

    def _send(self, conn: _Conn) -> None:
        """Write conn.out; a client that does not read it in read_timeout is dropped."""
        conn.state, conn.deadline = WRITING, time.monotonic() + self.read_timeout
        self._write(conn)

    def _render(self, conn: _Conn, response: Response) -> None:
        """The response's bytes into conn.out (None: the connection is unusable).
        On a worker's thread for the app's answers: the loop leaves a BUSY
        connection alone, so the state changes only under the mutex."""
        conn.out = None if conn.state == CLOSED else \
            rendered(conn, response, conn.close or self.stopping)  # CLOSED: the server stopped

    def _send_now(self, conn: _Conn, data: bytes) -> None:
        try:
            conn.sock.send(data)
        except OSError:
            pass

    def _write(self, conn: _Conn) -> None:
        if conn.out is None:
            return self._close(conn)
        try:
            conn.out = conn.out[conn.sock.send(conn.out):]
        except BlockingIOError:
            pass
        except OSError:
            return self._close(conn)
        if conn.out:
            return self._watch(conn, selectors.EVENT_WRITE)
        conn.out, h = None, conn.h
        if h.our_state is h11.DONE and h.their_state is h11.DONE and not conn.close:
            h.start_next_cycle()
            now = time.monotonic()
            self._idle(conn, now)
            if conn.state == IDLE and h.trailing_data[0]:  # pipelined: already here
                self._start(conn, now)
                self._parse(conn)
            return
        try:  # done with this connection: FIN, then drop what it still sends
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return self._close(conn)
        conn.state, conn.deadline = LINGERING, time.monotonic() + LINGER
        self._watch(conn, selectors.EVENT_READ)

    def _close(self, conn: _Conn) -> None:
        if conn.state == CLOSED:
            return
        self._watch(conn, 0)
        fd = conn.sock.fileno()
        self.conns.pop(fd, None)
        self.idle.pop(fd, None)
        conn.sock.close()
        conn.state, conn.body, conn.request, conn.out = CLOSED, None, None, None
        self._end_upload(conn)
        self._resume_accepting(time.monotonic())

    def _end_upload(self, conn: _Conn) -> None:
        """The large body conn held is gone (under the mutex)."""
        if conn.upload:
            self.uploads, conn.upload = self.uploads - 1, False

    def _sweep(self, now: float) -> None:
        for conn in list(self.conns.values()):
            if conn.deadline is not None and conn.deadline <= now:
                if conn.state == READING:
                    self._refuse(conn, 408, f"the request did not arrive whole within "
                                            f"{self.read_timeout:g} s")
                else:
                    self._close(conn)
        self._resume_accepting(now)

    def _drain_wake(self) -> None:
        try:
            os.read(self._wake_r, 4096)
        except BlockingIOError:
            pass

    # -- other threads ------------------------------------------------------------
    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # full (a wake-up is pending), or closed (the loop is gone)
            pass

    def _work(self, conn: _Conn, request: Request, queued) -> None:
        """queued: when the request began to wait for a worker (None: one was free)."""
        if queued is not None and time.monotonic() - queued >= self.queue_timeout:
            response = self.error(429, "no worker was free for the request within "
                                       f"{self.queue_timeout:g} s", request.target)
        else:
            try:
                response = self.app(request)
            except Exception as exc:  # noqa: BLE001 - a bug: answer 500, keep serving
                self.log(f"pycontain fn serve: {conn.line} failed:\n{traceback.format_exc()}")
                response = self.error(500, f"pycontain failed to answer: {exc!r}",
                                      request.target)
        try:  # whatever happens, the connection is given back (a bug must not wedge it)
            self._access(conn, response)
            self._render(conn, response)
            if conn.out is not None:  # sent from here, the answer need not wait for the loop
                try:
                    conn.out = conn.out[conn.sock.send(conn.out):]
                except BlockingIOError:
                    pass
                except OSError:
                    conn.out = None
        finally:
            request.body = b""  # a large upload's memory goes now (the worker holds request)
            with self._mutex:
                self.busy -= 1
                self._end_upload(conn)
                if conn.state != CLOSED:
                    self._send(conn)  # what could not be sent from here, and what follows

    def _access(self, conn: _Conn, response: Response) -> None:
        """The access log: one line per request."""
        took = (time.monotonic() - conn.started) * 1000
        self.log(f'{conn.peer} - [{time.strftime("%d/%b/%Y %H:%M:%S")}] "{conn.line}" '
                 f'{response.status} {response.note} {took:.2f}ms\n')

    def shutdown(self, grace: float, stop_calls) -> None:
        """Accept no more connections, close idle ones, call stop_calls() (which
        ends the calls in flight), wait up to grace seconds for their answers
        to be written, then close every connection and stop the loop."""
        with self._mutex:
            self.stopping = True
            self._pause_accepting(float("inf"))
            for conn in list(self.idle.values()):
                self._close(conn)
        stop_calls()
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (
                self.busy or any(c.state == WRITING for c in list(self.conns.values()))):
            time.sleep(0.02)
        self._stopped = True
        self._wake()

    def server_close(self) -> None:
        self.workers.shutdown()
        self.listener.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
