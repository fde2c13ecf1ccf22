"""`pycontain fn serve` against hostile HTTP: bad framing, smuggling, oversized
chunked bodies, thousands of idle connections, slow and half-sent requests.
Raw sockets on loopback; every request that must not run is checked against
the server's own count of calls (GET /status)."""
import json
import os
import resource
import select
import socket
import time

import pytest
from helpers import created_functions, wait_for
from test_fn_serve import Server, zygote_processes

CODE = '''
import time
def echo(event, context):
    return {"event": event}
def slow(event, context):
    time.sleep(event["sleep"])
'''
FUNCTIONS = {"http-echo": "app.echo", "http-smuggled": "app.echo", "http-slow": "app.slow"}
INVOKE = "/2015-03-31/functions/{}/invocations"


@pytest.fixture(scope="module")
def functions(engine_env, tmp_path_factory):
    yield from created_functions(engine_env, tmp_path_factory.mktemp("fnserve-http"), CODE,
                                 FUNCTIONS)


@pytest.fixture
def start(pc, functions):
    """Start servers with the given flags; each stopped cleanly afterwards."""
    started = []

    def run(*args):
        started.append(Server(pc, *args))
        return started[-1]
    yield run
    for srv in started:
        assert srv.stop() == 0
    assert not zygote_processes(pc.env["PYCONTAIN_ROOT"])


def calls(srv, name="http-echo") -> int:
    return srv.status()["functions"].get(name, {}).get("calls", 0)


def head(name="http-echo", *fields: str) -> bytes:
    lines = [f"POST {INVOKE.format(name)} HTTP/1.1", "Host: 127.0.0.1", *fields, "", ""]
    return "\r\n".join(lines).encode()


def exchange(srv, data: bytes, timeout=10.0) -> bytes:
    """Send data, half-close, and read until the server closes."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return read_to_eof(sock)


def read_to_eof(sock) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def responses(data: bytes) -> list:
    """(status, headers, body) of each HTTP response in data."""
    found = []
    while data:
        top, _, data = data.partition(b"\r\n\r\n")
        lines = top.decode("latin-1").split("\r\n")
        headers = {name.lower(): value for name, value in
                   (line.split(": ", 1) for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        found.append((int(lines[0].split()[1]), headers, data[:length]))
        data = data[length:]
    return found


def ready(socks: list, timeout: float = 0) -> list:
    """Those of socks with something to read (or closed): poll(), as the
    descriptors here may number past select()'s 1,024."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLIN)
    fds = {fd for fd, _ in poller.poll(timeout * 1000)}
    return [sock for sock in socks if sock.fileno() in fds]


def assert_runs_nothing(srv, before: int, name="http-echo") -> None:
    """No call was made meanwhile; a whole one still runs (and is counted)."""
    time.sleep(0.5)  # a call that was wrongly started would be counted by now
    assert calls(srv, name) == before
    assert srv.result(name, {"ok": 1}) == {"event": {"ok": 1}}
    assert calls(srv, name) == before + 1


@pytest.mark.parametrize("length", ["-1", "abc", "1, 2", "+2", "2 2"])
def test_malformed_content_length_is_400_and_runs_nothing(start, length):
    srv = start()
    before = calls(srv)
    (status, headers, body), = responses(exchange(srv, head("http-echo",
                                                            f"Content-Length: {length}") + b"{}"))
    assert status == 400 and "content-length" in json.loads(body)["message"].lower(), body
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert_runs_nothing(srv, before)


def test_transfer_encoding_with_content_length_is_400_and_smuggles_nothing(start):
    """A proxy that frames by Transfer-Encoding sees one request; a server that
    framed by Content-Length would run the second one hidden in its chunk."""
    srv = start()
    smuggled = head("http-smuggled", "Content-Length: 2") + b"{}"
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
    data = head("http-echo", "Content-Length: 4", "Transfer-Encoding: chunked") + chunked
    found = responses(exchange(srv, data))
    assert [status for status, _, _ in found] == [400], found
    assert "Transfer-Encoding" in json.loads(found[0][2])["message"]
    assert found[0][1]["connection"] == "close"
    assert_runs_nothing(srv, 0, "http-smuggled")
    assert calls(srv) == 0


def test_chunked_body_is_the_event(start):
    srv = start()
    event = json.dumps({"chunked": [1, 2, 3]}).encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (event[:5], event[5:]))
    (status, _, payload), = responses(exchange(
        srv, head("http-echo", "Transfer-Encoding: chunked", "Connection: close")
        + body + b"0\r\n\r\n"))
    assert status == 200 and json.loads(payload) == {"event": {"chunked": [1, 2, 3]}}


def test_chunked_body_over_the_limit_is_413_as_it_arrives(start):
    """The answer comes while the body is still being sent, once 6 MB are in:
    the server counts the chunks as they arrive instead of reading them all."""
    srv = start()
    chunk = b"%x\r\n%s\r\n" % (1 << 20, b"x" * (1 << 20))
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(head("http-echo", "Transfer-Encoding: chunked"))
        sent = 0
        while not ready([sock]):
            assert sent < 64 << 20, "no answer after 64 MB of chunks"
            sock.sendall(chunk)
            sent += 1 << 20
        reply = read_to_eof(sock)
    (status, headers, body), = responses(reply)
    assert status == 413 and headers["x-amzn-errortype"] == "RequestTooLargeException"
    assert "6291456 bytes" in json.loads(body)["message"]
    assert sent < 16 << 20
    assert_runs_nothing(srv, 0)


def test_half_sent_requests_run_nothing(start):
    """Clients that close before their request is whole: short bodies, cut
    headers, an unfinished chunked body. None of them may start a call."""
    srv = start()
    srv.result("http-echo")  # warm: a wrongly started call would run at once
    before = calls(srv)
    cut = [head("http-echo", "Content-Length: 100") + b"{}",
           head("http-echo", "Content-Length: 2")[:-10],
           head("http-echo", "Transfer-Encoding: chunked") + b"2\r\n{}\r\n"]
    for i in range(300):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(cut[i % len(cut)])
    assert_runs_nothing(srv, before)


@pytest.fixture
def many_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_two_thousand_idle_connections_do_not_stop_calls(start, many_files):
    """Past 1,024 open descriptors a server that waits on select() fails every call."""
    srv = start()
    idle = []
    try:
        for _ in range(2000):
            idle.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        wait_for(lambda: len(os.listdir(f"/proc/{srv.proc.pid}/fd")) > 2000, 20,
                 "the server to accept 2,000 connections")
        for i in range(5):
            assert srv.result("http-echo", {"i": i}) == {"event": {"i": i}}
        assert not ready(idle)  # all still open: none was cut off
    finally:
        for sock in idle:
            sock.close()


def test_past_max_connections_the_longest_idle_one_makes_room(start):
    srv = start("--max-connections", "20")
    idle = []
    try:
        for _ in range(30):
            idle.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        wait_for(lambda: len(ready(idle)) >= 10, 10,
                 "the 10 oldest connections to be closed")
        time.sleep(0.3)
        closed = ready(idle)
        assert closed == idle[:10] and all(sock.recv(1) == b"" for sock in closed)
        for i in range(3):  # a newcomer still gets in
            assert srv.result("http-echo", {"i": i}) == {"event": {"i": i}}
        assert len(os.listdir(f"/proc/{srv.proc.pid}/fd")) < 20 + 64
    finally:
        for sock in idle:
            sock.close()


def test_slow_loris_is_disconnected_while_calls_go_on(start):
    """Headers sent a byte a second: cut off once --read-timeout (2 s) passed
    since the request's first byte; other callers are served meanwhile."""
    srv = start("--read-timeout", "2")
    data = head("http-echo", "Content-Length: 2")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        started = time.monotonic()
        reply = None
        for i, byte in enumerate(data):
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # reset: the server is gone from this connection
                reply = b""
                break
            assert srv.result("http-echo", {"i": i}) == {"event": {"i": i}}
            if ready([sock], 1.0):
                reply = read_to_eof(sock)
                break
            if time.monotonic() - started > 8:
                break
        took = time.monotonic() - started
    assert reply is not None, f"still connected after {took:.1f} s"
    assert 1.5 < took < 5, took
    assert not reply or responses(reply)[0][0] == 408, reply
    assert calls(srv) == i + 1


def test_event_invocations_in_progress_are_capped(start, pc):
    """Event invocations go to the durable queue: past 256 queued or running,
    429 instead of one more event held without limit."""
    srv = start("--max-concurrency", "1", "--queue-timeout", "2")
    event = json.dumps({"sleep": 1}).encode()
    request = head("http-slow", f"Content-Length: {len(event)}",
                   "X-Amz-Invocation-Type: Event") + event
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(request * 300 + b"GET /status HTTP/1.1\r\nHost: a\r\n"
                                     b"Connection: close\r\n\r\n")
        found = responses(read_to_eof(sock))
    codes = [status for status, _, _ in found]
    assert codes[:256] == [202] * 256 and set(codes[256:300]) == {429}, codes
    assert found[299][1]["x-amzn-errortype"] == "TooManyRequestsException"
    assert codes[300:] == [200]  # the server goes on
    assert srv.stop() == 0
    queue = pc.root / "fn" / "triggers" / "events"  # accepted events outlive the server
    assert 0 < len(list(queue.glob("*.json"))) <= 256
    for path in queue.glob("*.json"):  # not for the next tests' servers to run
        path.unlink()
