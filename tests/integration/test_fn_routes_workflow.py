"""The seed workflow: a user service and an order service as functions behind
routes on `pycontain fn serve`, managed with the AWS CLI; the order handler
calls the user route over HTTP on the host network it is given (--network).
And who may call: API keys for Lambda's APIs and for keyed routes."""
import http.client
import json
import re
import subprocess
import zipfile

import pytest
from test_fn_lambda_api import ROLE, Cli
from test_fn_routes import request
from test_fn_serve import Server, zygote_processes

USERS = '''
import json
USERS = {"1": "Ada", "2": "Grace"}
def handler(event, context):
    uid = event["pathParameters"]["id"]
    if uid not in USERS:
        return {"statusCode": 404, "body": json.dumps({"error": "no such user"})}
    return {"id": uid, "name": USERS[uid]}
'''
USERS_V2 = USERS.replace('"Ada"', '"Ada Lovelace"')
ORDERS = '''
import json, os, urllib.request
def handler(event, context):
    order = json.loads(event["body"])
    url = f"{os.environ['USERS_URL']}/users/{order['user']}"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            user = json.load(r)
    except urllib.error.HTTPError as exc:
        return {"statusCode": 422, "body": json.dumps({"error": f"user: {exc.code}"})}
    return {"statusCode": 201, "headers": {"location": "/orders/1"},
            "body": json.dumps({"item": order["item"], "for": user["name"]})}
'''


def zip_of(path, source: str) -> str:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("main.py", source)
    return str(path)


@pytest.fixture
def shop(pc, tmp_path):
    srv = Server(pc)
    cli = Cli("v2", srv.url, tmp_path)
    yield srv, cli
    for key in ("GET /users/{id}", "POST /orders"):
        pc("fn", "route", "delete", key)
    for name in ("users", "orders"):
        pc("fn", "delete", name)
    assert srv.stop() == 0
    assert not zygote_processes(pc.env["PYCONTAIN_ROOT"])


def order(srv, user: str):
    status, _, body = request(srv, "POST", "/orders",
                              json.dumps({"user": user, "item": "book"}).encode(),
                              [("Content-Type", "application/json")])
    return status, json.loads(body)


def test_user_and_order_services_behind_routes(shop, pc, tmp_path):
    srv, cli = shop
    cli.json("create-function", "--function-name", "users", "--runtime", "python3.11",
             "--role", ROLE, "--handler", "main.handler",
             "--zip-file", f"fileb://{zip_of(tmp_path / 'users.zip', USERS)}")
    pc.out("fn", "create", "orders", "--zip-file", zip_of(tmp_path / "orders.zip", ORDERS),
           "--handler", "main.handler", "--timeout", "10", "--network",
           "--env", f"USERS_URL={srv.url}")
    pc.out("fn", "route", "create", "GET /users/{id}", "--function", "users")
    pc.out("fn", "route", "create", "POST /orders", "--function", "orders")

    status, _, body = request(srv, "GET", "/users/1")
    assert (status, json.loads(body)) == (200, {"id": "1", "name": "Ada"})
    assert order(srv, "1") == (201, {"item": "book", "for": "Ada"})
    assert order(srv, "9") == (422, {"error": "user: 404"})

    cli.json("update-function-code", "--function-name", "users",
             "--zip-file", f"fileb://{zip_of(tmp_path / 'users2.zip', USERS_V2)}")
    assert order(srv, "1") == (201, {"item": "book", "for": "Ada Lovelace"})

    # without the host's network the order service cannot reach the user route
    pc.out("fn", "update", "orders", "--no-network")
    assert order(srv, "1") == (502, {"message": "Internal Server Error"})
    assert "Network" not in cli.json("get-function-configuration", "--function-name", "orders")


def test_serving_beyond_loopback_needs_api_keys(pc):
    result = pc("fn", "serve", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 125
    assert result.stderr.startswith("pycontain: ") and result.stderr.count("\n") == 1
    assert "--api-key-file" in result.stderr


@pytest.fixture
def keyed(pc, tmp_path, routed_counter):
    keys = tmp_path / "keys"
    keys.write_text("# the team's keys\nkey-one-0123456789abcdef\n\nkey-two-0123456789abcdef\n")
    srv = Server(pc, "--api-key-file", keys)
    yield srv
    assert srv.stop() == 0


@pytest.fixture
def routed_counter(pc, tmp_path):
    pc.out("fn", "create", "k-counter", "--zip-file",
           zip_of(tmp_path / "c.zip", "def handler(e, c):\n    return {'ok': True}\n"),
           "--handler", "main.handler")
    pc.out("fn", "route", "create", "GET /open", "--function", "k-counter")
    pc.out("fn", "route", "create", "GET /keyed", "--function", "k-counter", "--api-key")
    yield
    pc.out("fn", "route", "delete", "GET /open")
    pc.out("fn", "route", "delete", "GET /keyed")
    pc.out("fn", "delete", "k-counter")


INVOKE = "/2015-03-31/functions/k-counter/invocations"


def test_api_keys_guard_lambdas_apis_and_keyed_routes(keyed):
    status, headers, _ = request(keyed, "POST", INVOKE, b"{}")
    assert status == 403 and dict(headers)["x-amzn-ErrorType"] == "UnrecognizedClientException"
    assert request(keyed, "GET", "/status")[0] == 403
    bad = [("x-api-key", "key-one-0123456789abcdeX")]
    assert request(keyed, "POST", INVOKE, b"{}", bad)[0] == 403
    good = [("x-api-key", "key-two-0123456789abcdef")]
    assert request(keyed, "POST", INVOKE, b"{}", good)[:1] == (200,)

    assert request(keyed, "GET", "/open")[0] == 200
    for headers in ((), bad):
        status, _, body = request(keyed, "GET", "/keyed", headers=headers)
        assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    assert request(keyed, "GET", "/keyed", headers=good)[0] == 200


def test_a_keyed_route_is_closed_on_a_server_without_keys(pc, routed_counter):
    srv = Server(pc)
    try:
        assert request(srv, "GET", "/open")[0] == 200
        assert request(srv, "GET", "/keyed")[0] == 403
    finally:
        assert srv.stop() == 0


def test_bound_beyond_loopback_with_keys_in_a_network_namespace(pc, tmp_path, routed_counter):
    """0.0.0.0 inside a network namespace of the test's own: nothing is exposed."""
    keys = tmp_path / "keys"
    keys.write_text("key-one-0123456789abcdef\n")
    pc.prefix = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    proc = pc.popen("fn", "serve", "--host", "0.0.0.0", "--port", "0", "--api-key-file", keys)
    try:
        line = proc.stderr.readline()
        port = re.search(r"listening on http://0\.0\.0\.0:(\d+)", line).group(1)

        def curl(*args):
            return subprocess.run(["nsenter", "-t", str(proc.pid), "-n", "curl", "-s",
                                   "-o", "/dev/null", "-w", "%{http_code}", *args],
                                  capture_output=True, text=True, timeout=30).stdout
        assert curl(f"http://127.0.0.1:{port}/open") == "200"
        assert curl(f"http://127.0.0.1:{port}/status") == "403"
        assert curl("-H", "x-api-key: key-one-0123456789abcdef",
                    f"http://127.0.0.1:{port}/status") == "200"
    finally:
        pc.prefix = []
        proc.terminate()
        assert proc.wait(20) == 0
