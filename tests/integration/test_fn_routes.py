"""HTTP routes on `pycontain fn serve` (API Gateway's HTTP API): events in
payload formats 2.0 and 1.0, results mapped back, errors, parallel calls.
Driven by curl and http.client against a real server on loopback."""
import base64
import http.client
import json
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import created_functions
from test_fn_serve import Server, zygote_processes

CODE = '''
import base64, json, time
COUNT = 0
def echo(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}
def infer(event, context):
    return {"hello": event["pathParameters"]["name"], "n": [1, 2]}
def binary(event, context):
    data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else b"?"
    return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
            "isBase64Encoded": True, "body": base64.b64encode(data[::-1]).decode()}
def cookies(event, context):
    return {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "headers": {"x-count": 3}, "body": json.dumps(event.get("cookies"))}
def multi(event, context):
    return {"statusCode": 202, "headers": {"x-single": "s", "x-multi": "lost"},
            "multiValueHeaders": {"x-multi": ["1", "2"]},
            "body": json.dumps({k: event[k] for k in (
                "resource", "path", "httpMethod", "headers", "multiValueHeaders",
                "queryStringParameters", "multiValueQueryStringParameters",
                "pathParameters", "stageVariables", "body", "isBase64Encoded")})}
def raises(event, context):
    raise ValueError("no")
def sleeps(event, context):
    time.sleep(float((event.get("queryStringParameters") or {}).get("s", "0.2")))
    return {"statusCode": 200, "body": "slept"}
def not_a_dict(event, context):
    return [1, 2]
def bad_status(event, context):
    return {"statusCode": "abc", "body": "x"}
def bad_header(event, context):
    return {"statusCode": 200, "headers": {"x-evil": "a\\r\\nset-cookie: x=1"}}
def reflect(event, context):
    query = event.get("queryStringParameters") or {}
    headers = {"x-echo": event["headers"].get("x-echo", "-")}
    if "header" in query:
        headers["x-made"] = query["header"]
    return {"statusCode": int(query.get("status", 200)), "headers": headers, "body": "hello"}
def counter(event, context):
    global COUNT
    COUNT += 1
    return {"count": COUNT}
'''
FUNCTIONS = {"r-echo": "app.echo", "r-infer": "app.infer", "r-binary": "app.binary",
             "r-cookies": "app.cookies", "r-multi": "app.multi", "r-raises": "app.raises",
             "r-sleeps": "app.sleeps", "r-timeout": "app.sleeps", "r-list": "app.not_a_dict",
             "r-status": "app.bad_status", "r-header": "app.bad_header",
             "r-counter": "app.counter", "r-reflect": "app.reflect"}
ROUTES = [("GET /users/{id}", "r-echo", "2.0"), ("ANY /echo/{proxy+}", "r-echo", "2.0"),
          ("POST /echo/exact", "r-counter", "2.0"), ("GET /hello/{name}", "r-infer", "2.0"),
          ("POST /binary", "r-binary", "2.0"), ("GET /cookies", "r-cookies", "2.0"),
          ("ANY /v1/{thing}", "r-multi", "1.0"), ("GET /raises", "r-raises", "2.0"),
          ("GET /timeout", "r-timeout", "2.0"), ("GET /v1list", "r-list", "1.0"),
          ("GET /status-abc", "r-status", "2.0"), ("GET /header", "r-header", "2.0"),
          ("GET /sleep", "r-sleeps", "2.0"), ("GET /counter", "r-counter", "2.0"),
          ("GET /v1-sleep", "r-sleeps", "1.0"), ("ANY /reflect", "r-reflect", "2.0")]


@pytest.fixture(scope="module")
def routed(engine_env, tmp_path_factory):
    for engine in created_functions(engine_env, tmp_path_factory.mktemp("fnroutes"), CODE,
                                    FUNCTIONS, lambda name: ("--timeout", "1" if name ==
                                                             "r-timeout" else "10")):
        for key, function, version in ROUTES:
            engine.out("fn", "route", "create", key, "--function", function,
                       "--payload-format", version)
        yield engine
        for key, _, _ in ROUTES:
            engine.out("fn", "route", "delete", key)


@pytest.fixture
def srv(pc, routed):
    server = Server(pc)
    yield server
    assert server.stop() == 0
    assert not zygote_processes(pc.env["PYCONTAIN_ROOT"])


def request(srv, method, target, body=None, headers=()):
    """(status, [(header, value)...], body) through http.client."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def curl(srv, *args) -> subprocess.CompletedProcess:
    """curl -i: the status line, headers and body, as bytes."""
    return subprocess.run(["curl", "-sS", "-i", "--max-time", "30", *args],
                          capture_output=True, check=True)


def test_path_parameters_repeated_query_and_headers_in_a_2_0_event(srv):
    status, headers, body = request(
        srv, "GET", "/users/42%20x?tag=a&tag=b&empty=&one=1",
        headers=[("X-Rep", "1"), ("X-Rep", "2"), ("User-Agent", "tester/1")])
    assert status == 200, body
    assert dict(headers)["content-type"] == "application/json"
    event = json.loads(body)
    assert event["version"] == "2.0" and event["routeKey"] == "GET /users/{id}"
    assert event["rawPath"] == "/users/42%20x"
    assert event["rawQueryString"] == "tag=a&tag=b&empty=&one=1"
    assert event["pathParameters"] == {"id": "42 x"}
    assert event["queryStringParameters"] == {"tag": "a,b", "empty": "", "one": "1"}
    assert event["headers"]["x-rep"] == "1,2"
    assert event["headers"]["user-agent"] == "tester/1"
    assert "cookies" not in event and "body" not in event
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {"method": "GET", "path": "/users/42%20x", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "tester/1"}
    assert context["routeKey"] == "GET /users/{id}" and context["stage"] == "$default"
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60
    assert time.strptime(context["time"], "%d/%b/%Y:%H:%M:%S +0000")
    assert dict(headers)["apigw-requestid"] == context["requestId"]


def test_most_specific_route_wins_and_any_takes_every_method(srv):
    status, _, body = request(srv, "POST", "/echo/exact")
    assert (status, json.loads(body)) == (200, {"count": 1})  # not the greedy route's echo
    status, _, body = request(srv, "DELETE", "/echo/a/b%2Fc/d", b"text")
    event = json.loads(body)
    assert event["routeKey"] == "ANY /echo/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c/d"}
    assert event["requestContext"]["http"]["method"] == "DELETE" and event["body"] == "text"


def test_unknown_path_and_method_are_404_and_run_nothing(srv):
    for method, target in (("GET", "/nowhere"), ("POST", "/users/1"), ("GET", "/users/"),
                           ("GET", "/users/1/more"), ("GET", "/echo")):
        status, headers, body = request(srv, method, target)
        assert (status, json.loads(body)) == (404, {"message": "Not Found"}), target
        assert dict(headers)["Content-Type"] == "application/json"
    assert "r-echo" not in srv.status()["functions"]


def test_cookies_both_ways_with_curl(srv):
    out = curl(srv, "-b", "x=1; y=two", f"{srv.url}/cookies").stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 201")
    assert [ln for ln in lines if ln.lower().startswith("set-cookie:")] == [
        "set-cookie: a=1; Path=/", "set-cookie: b=2; HttpOnly"]
    assert "x-count: 3" in lines
    assert json.loads(body) == ["x=1", "y=two"]


def test_binary_body_round_trips_through_base64_with_curl(srv, tmp_path):
    data = bytes(range(256)) * 40
    (tmp_path / "in.bin").write_bytes(data)
    out = subprocess.run(["curl", "-sS", "--fail", "--max-time", "30", "--data-binary",
                          f"@{tmp_path / 'in.bin'}", "-H", "Content-Type: image/png",
                          f"{srv.url}/binary"], capture_output=True, check=True).stdout
    assert out == data[::-1]


def test_2_0_infers_a_response_without_status_code(srv):
    status, headers, body = request(srv, "GET", "/hello/ann")
    assert status == 200
    assert dict(headers)["content-type"] == "application/json"
    assert json.loads(body) == {"hello": "ann", "n": [1, 2]}


def test_1_0_event_and_multi_value_fields(srv):
    status, headers, body = request(srv, "PUT", "/v1/box?a=1&a=2&b=3", b'{"k": 1}',
                                    headers=[("X-Rep", "p"), ("X-Rep", "q"),
                                             ("Content-Type", "application/json")])
    assert status == 202, body
    assert [v for k, v in headers if k == "x-multi"] == ["1", "2"]
    assert dict(headers)["x-single"] == "s"
    event = json.loads(body)
    assert event["resource"] == "/v1/{thing}" and event["path"] == "/v1/box"
    assert event["httpMethod"] == "PUT" and event["pathParameters"] == {"thing": "box"}
    assert event["queryStringParameters"] == {"a": "2", "b": "3"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}
    assert event["headers"]["x-rep"] == "q"
    assert event["multiValueHeaders"]["x-rep"] == ["p", "q"]
    assert event["stageVariables"] is None
    assert (event["body"], event["isBase64Encoded"]) == ('{"k": 1}', False)


@pytest.mark.parametrize("target", ["/raises", "/timeout?s=5", "/v1list", "/status-abc",
                                    "/header", "/reflect?status=150", "/reflect?header=%07",
                                    "/reflect?header=%E2%82%AC"])
def test_failed_call_or_malformed_result_is_502(srv, target):
    status, headers, body = request(srv, "GET", target)
    assert (status, json.loads(body)) == (502, {"message": "Internal Server Error"})
    assert not [k for k, _ in headers if k.lower() == "x-evil"]


def test_head_204_and_an_echoed_latin_1_field(srv):
    """HEAD and 204 answers carry no body; a request's field echoed back keeps
    its bytes (fields are latin-1 both ways)."""
    status, headers, body = request(srv, "HEAD", "/reflect")
    assert (status, body, {k.lower(): v for k, v in headers}["content-length"]) == (200, b"", "5")
    assert request(srv, "GET", "/reflect?status=204")[::2] == (204, b"")
    reply = curl(srv, "-H", b"X-Echo: caf\xe9", f"{srv.url}/reflect").stdout
    assert b"\r\nx-echo: caf\xe9\r\n" in reply and reply.endswith(b"hello")


def test_what_the_server_refuses_on_a_route_is_in_api_gateways_shape(srv):
    """A body over 6 MB (declared, or counted as chunks arrive) on a route's path:
    API Gateway's 413; at Lambda's paths Lambda's own shape stays."""
    for framing in ("Content-Length: 7000000\r\n\r\n",
                    "Transfer-Encoding: chunked\r\n\r\n" + "100000\r\n" + "x" * 0x100000):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
            sock.sendall(f"POST /reflect HTTP/1.1\r\nHost: a\r\n{framing}".encode())
            if framing.startswith("Transfer"):
                for _ in range(6):
                    sock.sendall(b"\r\n100000\r\n" + b"x" * 0x100000)
            reply = sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
        assert reply.endswith(b'{"message": "Request Entity Too Large"}'), reply
    status, headers, _ = request(srv, "POST", "/2015-03-31/functions/r-echo/invocations",
                                 headers=[("Content-Length", "7000000")])
    assert status == 413 and ("x-amzn-ErrorType", "RequestTooLargeException") in headers


def test_16_concurrent_requests_to_a_200ms_handler_run_in_parallel(srv):
    assert request(srv, "GET", "/sleep?s=0")[0] == 200  # the zygote is warm
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: request(srv, "GET", "/sleep"), range(16)))
    took = time.monotonic() - started
    assert [r[0] for r in results] == [200] * 16
    assert took < 1.0, f"16 calls of 200 ms took {took:.2f} s"


def test_a_slow_route_never_blocks_another_functions_route(srv):
    assert request(srv, "GET", "/counter")[0] == 200
    slow = [threading.Thread(target=request, args=(srv, "GET", "/v1-sleep?s=3"))
            for _ in range(8)]
    for thread in slow:
        thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    status, _, _ = request(srv, "GET", "/counter")
    assert status == 200 and time.monotonic() - started < 1.0
    for thread in slow:
        thread.join()


def test_no_state_between_requests(srv):
    counts = [json.loads(request(srv, "GET", "/counter")[2])["count"] for _ in range(5)]
    assert counts == [1] * 5


def test_routes_change_while_serving(srv, pc):
    assert request(srv, "GET", "/late/1")[0] == 404
    pc.out("fn", "route", "create", "GET /late/{n}", "--function", "r-counter")
    try:
        assert request(srv, "GET", "/late/1")[0] == 200
    finally:
        pc.out("fn", "route", "delete", "GET /late/{n}")
    assert request(srv, "GET", "/late/1")[0] == 404


def test_lambda_paths_stay_lambdas(srv):
    status, _, body = request(srv, "POST", "/2015-03-31/functions/r-counter/invocations", b"{}")
    assert (status, json.loads(body)) == (200, {"count": 1})
    status, headers, _ = request(srv, "GET", "/2015-03-31/nothing")
    assert status == 404 and dict(headers)["x-amzn-ErrorType"] == "UnknownOperationException"
