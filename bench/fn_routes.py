#!/usr/bin/env python3
"""An HTTP route to a trivial function: `GET /hello/{name}` through `pycontain
fn serve` (API Gateway's 2.0 event, a fresh jail per request) against the same
handler behind an HTTP server of the same kind that builds the same event and
calls the handler in its own process (python-lambda-local style: no isolation,
the floor), and one that runs it with `bwrap --unshare-all` + python3 per
request; and the same handler through fn serve's Invoke API (what routing
adds); and, with SERVERLESS_OFFLINE_DIR=DIR holding node_modules of `npm
install serverless@3 serverless-offline@13`, behind AWS's serverless-offline
(a warm python3.11 of its own, no isolation). Latency: sequential requests on one keep-alive connection (p50/p99);
requests/s: THREADS keep-alive clients at once. Target: p50 <= 3 ms through fn
serve. Run as root: bench/fn_routes.py [REQUESTS] [THREADS]."""
import contextlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

from common import PYCONTAIN, REPO
from fn_serve import percentile, throughput
from fork_floor import latency

HANDLER = ('def handler(event, context):\n'
           '    return {"statusCode": 200, "headers": {"content-type": "text/plain"},\n'
           '            "body": "Hello, " + event["pathParameters"]["name"]}\n')
ROUTE, PATH = "GET /hello/{name}", "/hello/John"
WARM_UP = 300  # requests before fn serve is measured (the first row measured ran slower)


@contextlib.contextmanager
def private_store(prefix: str, functions: dict):
    """A store of its own with the python image and functions {name: handler
    source} (handler main.handler); yields its work directory."""
    work = tempfile.mkdtemp(prefix=prefix)
    os.chmod(work, 0o755)
    saved = {k: os.environ.get(k) for k in ("PYCONTAIN_ROOT", "PYCONTAIN_RUNROOT")}
    os.environ.update(PYCONTAIN_ROOT=f"{work}/data", PYCONTAIN_RUNROOT=f"{work}/run")
    try:
        subprocess.run([sys.executable, str(REPO / "rootfs" / "build.py"), f"{work}/layouts",
                        "python"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([PYCONTAIN, "import", f"oci:{work}/layouts/python",
                        "localhost/python:latest"], check=True, stdout=subprocess.DEVNULL)
        for name, source in functions.items():
            with zipfile.ZipFile(f"{work}/{name}.zip", "w") as z:
                z.writestr("main.py", source)
            subprocess.run([PYCONTAIN, "fn", "create", name, "--zip-file", f"{work}/{name}.zip",
                            "--handler", "main.handler"], check=True, stdout=subprocess.DEVNULL)
        yield work
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.update({key: value})
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def fn_serve(*args):
    """`pycontain fn serve` on a free port: yields the port."""
    server = subprocess.Popen([PYCONTAIN, "fn", "serve", "--port", "0", *args],
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+) ", line).group(1))
        threading.Thread(target=server.stderr.read, daemon=True).start()
        yield port
    finally:
        server.terminate()
        server.wait()


def serve_reference(mode: str, handler_path: str) -> None:
    """The reference server (run in a process of its own): builds the 2.0
    event with pycontain's own code, runs the handler in-process or in bwrap."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from types import SimpleNamespace
    sys.path.append(str(REPO))
    from pycontain.fn.server.apigw_events import event_v2, response_parts
    from fn_exec import bwrap_command
    namespace = {}
    exec(compile(open(handler_path).read(), handler_path, "exec"), namespace)
    command = bwrap_command(handler_path)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes

        def do_GET(self):  # noqa: N802 - http.server's name
            fields = [(k.lower(), v) for k, v in self.headers.items()]
            request = SimpleNamespace(method="GET", target=self.path, version="1.1",
                                      fields=fields, headers=dict(fields), body=b"",
                                      peer=self.client_address[0])
            event = event_v2(request, ROUTE, {"name": self.path.rsplit("/", 1)[1]},
                             os.urandom(16).hex(), time.time())
            if mode == "inprocess":
                payload = json.dumps(namespace["handler"](event, None)).encode()
            else:
                payload = subprocess.run(command, input=json.dumps(event).encode(),
                                         capture_output=True, check=True).stdout
            status, headers, body = response_parts(payload, "2.0")
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


@contextlib.contextmanager
def reference(mode: str, handler_path: str):
    server = subprocess.Popen([sys.executable, __file__, "--serve", mode, handler_path],
                              stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(__file__))
    try:
        yield int(server.stdout.readline())
    finally:
        server.terminate()
        server.wait()


SERVERLESS_YML = """service: bench
frameworkVersion: "3"
provider: {name: aws, runtime: python3.11, region: us-east-1}
plugins: [serverless-offline]
functions:
  hello:
    handler: handler.handler
    events: [{httpApi: {method: GET, path: "/hello/{name}"}}]
custom: {serverless-offline: {noPrependStageInUrl: true}}
"""


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serverless_offline(modules: str, work: str):
    """serverless-offline serving the handler (a warm python3.11 of its own, no
    isolation), from MODULES/node_modules (npm install serverless@3
    serverless-offline@13): yields its HTTP port."""
    import signal
    service = f"{work}/serverless"
    os.makedirs(service)
    with open(f"{service}/serverless.yml", "w") as f:
        f.write(SERVERLESS_YML)
    with open(f"{service}/handler.py", "w") as f:
        f.write(HANDLER)
    os.symlink(os.path.join(os.path.abspath(modules), "node_modules"), f"{service}/node_modules")
    port = _free_port()
    env = dict(os.environ, SLS_TELEMETRY_DISABLED="1", SLS_NOTIFICATIONS_MODE="off",
               AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    server = subprocess.Popen([f"{service}/node_modules/.bin/serverless", "offline", "start",
                               "--httpPort", str(port), "--lambdaPort", str(_free_port())],
                              cwd=service, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        seen = []
        for line in server.stdout:
            seen.append(line)
            if "Server ready" in line:
                break
        else:
            raise RuntimeError("serverless-offline did not start:\n" + "".join(seen[-20:]))
        threading.Thread(target=server.stdout.read, daemon=True).start()
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # its group: node and its python
        server.wait()


def route_call(port: int):
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def call():
        conn.request("GET", PATH)
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b"Hello, John", response.status
    return call


def invoke_call(port: int):
    """The same handler through Lambda's Invoke API (no route, a small event)."""
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def call():
        conn.request("POST", "/2015-03-31/functions/hello/invocations",
                     b'{"pathParameters": {"name": "John"}}')
        response = conn.getresponse()
        assert response.status == 200 and b"Hello, John" in response.read(), response.status
    return call


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    rows = []
    with private_store("pycontain-bench-routes-", {"hello": HANDLER}) as work:
        subprocess.run([PYCONTAIN, "fn", "route", "create", ROUTE, "--function", "hello"],
                       check=True, stdout=subprocess.DEVNULL)
        with fn_serve() as port:
            warm = route_call(port)
            for _ in range(WARM_UP):  # the zygote, its spares, the server's first calls
                warm()
            rows.append(("fn serve route, fresh jail per request",
                         latency(route_call(port), requests),
                         throughput(lambda: route_call(port), threads)))
            rows.append(("fn serve Invoke API, same handler", latency(invoke_call(port), requests),
                         throughput(lambda: invoke_call(port), threads)))
        handler_path = f"{work}/handler.py"
        with open(handler_path, "w") as f:
            f.write(HANDLER)
        with reference("inprocess", handler_path) as port:
            rows.append(("in-process, no isolation (the floor)",
                         latency(route_call(port), requests),
                         throughput(lambda: route_call(port), threads)))
        modules = os.environ.get("SERVERLESS_OFFLINE_DIR")
        if modules:
            with serverless_offline(modules, work) as port:
                rows.append(("serverless-offline 13, no isolation",
                             latency(route_call(port), requests),
                             throughput(lambda: route_call(port), threads)))
        with reference("bwrap", handler_path) as port:
            rows.append(("bwrap --unshare-all python3 per request",
                         latency(route_call(port), max(requests // 5, 50)),
                         throughput(lambda: route_call(port), threads)))
    print(f"\nGET {PATH} -> route {ROUTE!r} -> a trivial handler ({requests} sequential "
          f"requests for latency, {threads} concurrent clients for requests/s, "
          f"{os.cpu_count()} CPUs)")
    print(f"| {'server':<42} | {'p50 ms':>7} | {'p99 ms':>7} | {'req/s':>7} |")
    print(f"|{'-' * 44}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for label, samples, rate in rows:
        print(f"| {label:<42} | {percentile(samples, 0.5):7.2f} | "
              f"{percentile(samples, 0.99):7.2f} | {rate:7.0f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve_reference(sys.argv[2], sys.argv[3])
    else:
        main()
