"""fn serve's HTTP/1.1 server (fn/server/httpd.py) with a stand-in app, over loopback
sockets: the limits and HTTP/1.1 behaviour the Lambda API tests do not reach."""
import re
import select
import socket
import threading
import time

import pytest

from pycontain.fn.server.httpd import MAX_FIELDS, MAX_HEAD, HttpServer, Response


class App:
    """Echoes the body (and an X-Echo field), answers the status an X-Status
    field asks for, a header no HTTP message can hold for X-Unsendable;
    counts the requests it saw; `block` holds calls back."""

    def __init__(self):
        self.seen, self.block = [], threading.Event()
        self.block.set()

    def __call__(self, request):
        self.seen.append(request.body)
        self.block.wait(10)
        headers = [("X-Method", request.method)]
        if "x-echo" in request.headers:
            headers.append(("X-Echo", request.headers["x-echo"]))
        if "x-unsendable" in request.headers:
            headers.append(("X-Bad", "\u20ac"))  # not latin-1
        return Response(int(request.headers.get("x-status", 200)), headers, request.body)


@pytest.fixture
def server():
    servers = []

    def start(**options):
        settings = dict(workers=4, max_connections=64, read_timeout=5.0,
                        keepalive_timeout=30.0, queue_timeout=10.0, max_body=1024)
        settings.update(options)
        app = App()
        srv = HttpServer(socket.create_server(("127.0.0.1", 0)), app,
                         lambda status, message, target: Response(status, body=message.encode()),
                         lambda line: None, **settings)
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        servers.append((srv, thread))
        return srv, app, srv.listener.getsockname()[1]
    yield start
    for srv, thread in servers:
        srv.app.block.set()
        srv.shutdown(1.0, lambda: None)
        thread.join(5)
        srv.server_close()


def post(body=b"{}", *fields):
    head = ["POST /x HTTP/1.1", "Host: a", f"Content-Length: {len(body)}", *fields, "", ""]
    return "\r\n".join(head).encode() + body


def talk(port, data, half_close=True):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def statuses(data: bytes) -> list:
    """The status of each final response in data (the bodies here hold no "HTTP/")."""
    return [int(code) for code in re.findall(rb"HTTP/1\.1 ([2-5]\d\d) ", data)]


def test_pipelined_requests_are_answered_in_order(server):
    _, app, port = server()
    reply = talk(port, post(b"one") + post(b"two") + post(b"three", "Connection: close"))
    assert statuses(reply) == [200, 200, 200]
    assert reply.index(b"one") < reply.index(b"two") < reply.index(b"three")
    assert app.seen == [b"one", b"two", b"three"]


def test_head_limits(server):
    _, app, port = server()
    many = [f"X-{i}: a" for i in range(MAX_FIELDS + 1)]
    assert statuses(talk(port, post(b"{}", *many))) == [431]
    assert statuses(talk(port, post(b"{}", "X-Big: " + "a" * MAX_HEAD))) == [431]
    assert statuses(talk(port, b"POST /x HTTP/1.1\r\nHost: a\r\n"
                               b"Transfer-Encoding: gzip, chunked\r\n\r\n")) == [501]
    assert statuses(talk(port, b"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")) == [400]
    assert app.seen == []


def test_declared_body_over_the_limit_is_413_before_it_is_sent(server):
    _, app, port = server()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post(b"x" * 2000, "Expect: 100-continue")[:-2000])
        reply = sock.recv(65536)
    assert statuses(reply) == [413] and app.seen == []


def test_expect_100_continue(server):
    _, app, port = server()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post(b"abc", "Expect: 100-continue")[:-3])
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 ")
        sock.sendall(b"abc")
        reply = sock.recv(65536)
    assert statuses(reply) == [200] and reply.endswith(b"abc")


def test_a_request_waiting_past_queue_timeout_for_a_worker_gets_429(server):
    _, app, port = server(workers=1, queue_timeout=0.3)
    app.block.clear()
    first = socket.create_connection(("127.0.0.1", port), timeout=10)
    first.sendall(post(b"first"))
    deadline = time.monotonic() + 5
    while not app.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    second = socket.create_connection(("127.0.0.1", port), timeout=10)
    second.sendall(post(b"second"))
    time.sleep(0.5)
    app.block.set()
    assert statuses(first.recv(65536)) == [200]
    assert statuses(second.recv(65536)) == [429] and app.seen == [b"first"]
    first.close()
    second.close()


def test_idle_connections_are_closed_after_keepalive_timeout(server):
    _, _, port = server(keepalive_timeout=0.5)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post())
        assert statuses(sock.recv(65536)) == [200]
        start = time.monotonic()
        assert select.select([sock], [], [], 5)[0] and sock.recv(1) == b""
        assert time.monotonic() - start < 2


def test_head_204_and_304_answers_have_no_body(server):
    """Framed as RFC 9110 says: a client reading the connection on finds the
    next answer where it begins."""
    _, _, port = server()
    head = b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"
    reply = talk(port, head + post(b"abc", "X-Status: 204") + post(b"abc", "X-Status: 304")
                 + post(b"last", "Connection: close"))
    answers = reply.split(b"HTTP/1.1 ")[1:]
    assert statuses(reply) == [200, 204, 304, 200]
    assert b"content-length: 0\r\n" in answers[0].lower() and answers[0].endswith(b"\r\n\r\n")
    assert b"content-length" not in answers[1].lower() and answers[1].endswith(b"\r\n\r\n")
    assert answers[2].endswith(b"\r\n\r\n") and answers[3].endswith(b"last")


def test_a_target_urlsplit_refuses_is_400(server):
    _, app, port = server()
    assert statuses(talk(port, b"GET //[x/y HTTP/1.1\r\nHost: a\r\n\r\n")) == [400]
    assert app.seen == []


def test_a_latin_1_field_echoed_keeps_its_bytes(server):
    _, _, port = server()
    reply = talk(port, post(b"{}", "Connection: close").replace(
        b"Host: a", b"Host: a\r\nX-Echo: caf\xe9"))
    assert statuses(reply) == [200] and b"\r\nX-Echo: caf\xe9\r\n" in reply


def test_an_answer_that_cannot_be_sent_closes_only_its_connection(server):
    srv, _, port = server(max_connections=2)
    for _ in range(3):  # each took a connection slot and a worker for good
        assert talk(port, post(b"{}", "X-Unsendable: 1")) == b""
    deadline = time.monotonic() + 5
    while srv.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.busy == 0
    assert statuses(talk(port, post(b"{}", "Connection: close"))) == [200]
