"""fn serve's HTTP messages and connections, as the server (fn.server.httpd)
holds them: a request received whole, a response, a connection's state."""
from http import HTTPStatus

import h11

MAX_HEAD = 16 * 1024  # request line and headers
MAX_FIELDS = 100      # header fields
IDLE, READING, BUSY, WRITING, LINGERING, CLOSED = range(6)


class Request:
    """A request received whole: headers has lower-case names (the first of
    a repeated field wins); fields has every (name, value), in order."""
    __slots__ = ("method", "target", "version", "headers", "body", "peer", "fields")

    def __init__(self, event, peer: str):
        self.method, self.target = event.method.decode(), event.target.decode()
        self.version = event.http_version.decode()
        self.headers, self.body, self.peer = {}, b"", peer
        self.fields = [(name.decode(), value.decode("latin-1")) for name, value in event.headers]
        for name, value in self.fields:
            self.headers.setdefault(name, value)


class Response:
    """note: what the access log shows after the status (a request id)."""
    __slots__ = ("status", "headers", "body", "note")

    def __init__(self, status: int, headers=(), body: bytes = b"", note: str = "-"):
        self.status, self.headers, self.body, self.note = status, list(headers), body, note


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status a function chose (fn.server.route_app)
        return ""


class _Conn:
    __slots__ = ("sock", "peer", "h", "state", "events", "deadline", "started", "body",
                 "size", "request", "out", "close", "line", "limit", "upload", "method",
                 "target", "too_large")

    def __init__(self, sock, peer: str):
        self.sock, self.peer = sock, peer
        self.h = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self.state, self.events, self.deadline, self.started = IDLE, 0, None, 0.0
        self.body, self.size, self.request, self.out, self.close = [], 0, None, None, False
        self.line, self.limit, self.upload = "-", 0, False
        self.method, self.target, self.too_large = "", "", None


def rendered(conn: _Conn, response: Response, close: bool):
    """The response's bytes on conn, as a memoryview (close: with Connection:
    close); None if h11 refuses them (the connection is unusable). Header
    values are latin-1 (a request's are read so: an echoed one keeps its
    bytes). No body in an answer to HEAD (its length is still told) or in a
    204 or 304 (RFC 9110 section 6.4.1)."""
    h, body, status = conn.h, response.body, response.status
    headers = list(response.headers)
    if status != 204:
        headers.append(("Content-Length", str(len(body))))
    if close:
        headers.append(("Connection", "close"))
    if conn.method == "HEAD" or status in (204, 304):
        body = b""
    try:
        data = h.send(h11.Response(
            status_code=status, reason=_reason(status),
            headers=[(name.encode("ascii"), value.encode("latin-1")) for name, value in headers]))
        if body:
            data += h.send(h11.Data(data=body))
        h.send(h11.EndOfMessage())
    except (h11.LocalProtocolError, UnicodeError):
        return None
    return memoryview(data)
