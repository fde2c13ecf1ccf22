"""Lambda's function API on `pycontain fn serve`, driven by real clients:
boto3, and the AWS CLI (v2: Debian's /usr/bin/aws; v1: PyPI's `awscli`, a test
dependency, in the virtualenv), each with only --endpoint-url pointed at us."""
import base64
import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from helpers import wait_for

ROLE = "arn:aws:iam::123456789012:role/lambda-ex"
CLIS = {"v2": Path("/usr/bin/aws"), "v1": Path(sys.executable).parent / "aws"}


def code_zip(version: str) -> bytes:
    """A handler that says which code it is, what it sees, and sleeps if asked."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("main.py", f'''
import os, time
def handler(event, context):
    print("running {version} for", event.get("who"))
    time.sleep(event.get("sleep", 0))
    return {{"version": "{version}", "greeting": os.environ.get("GREETING"),
            "timeout_ms": context.get_remaining_time_in_millis()}}
''')
    return out.getvalue()


def sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class Server:
    """A running `pycontain fn serve` on a free loopback port, and boto3 on it."""

    def __init__(self, pc, *args):
        self.proc = pc.popen("fn", "serve", "--port", "0", *args)
        line = self.proc.stderr.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", line)
        assert match, line + self.proc.stderr.read()
        self.url, self.port = match.group(1), int(match.group(2))
        self.lines = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True).start()
        self.client = boto3.client(
            "lambda", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=60))

    def invoke(self, name, event=None):
        response = self.client.invoke(FunctionName=name, Payload=json.dumps(event or {}))
        return response.get("FunctionError"), json.loads(response["Payload"].read())

    def status(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/status") as r:
            return json.load(r)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


@pytest.fixture
def server(pc):
    srv = Server(pc, "--queue-timeout", "0", "--max-concurrency", "8")
    yield srv
    assert srv.stop() == 0, "".join(srv.lines)


def error_of(excinfo) -> tuple:
    """(error code, HTTP status, message) of a botocore ClientError."""
    response = excinfo.value.response
    return (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"]["Message"])


def test_create_get_update_delete_with_boto3(server, pc):
    client, v1 = server.client, code_zip("v1")
    made = client.create_function(
        FunctionName="api-fn", Runtime="python3.12", Role=ROLE, Handler="main.handler",
        Code={"ZipFile": v1}, Description="made by boto3", Timeout=5, MemorySize=256,
        Environment={"Variables": {"GREETING": "hello"}})
    try:
        assert made["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert made["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:api-fn"
        assert (made["State"], made["LastUpdateStatus"], made["Version"]) == \
            ("Active", "Successful", "$LATEST")
        assert (made["CodeSha256"], made["CodeSize"]) == (sha256(v1), len(v1))
        assert (made["Runtime"], made["Role"], made["Description"]) == \
            ("python3.12", ROLE, "made by boto3")
        assert (made["Timeout"], made["MemorySize"]) == (5, 256)
        assert made["Environment"] == {"Variables": {"GREETING": "hello"}}
        assert "Image" not in made  # pycontain's own setting is not Lambda's shape
        error, body = server.invoke("api-fn", {"who": "boto3"})
        assert error is None and (body["version"], body["greeting"]) == ("v1", "hello")
        assert 3000 < body["timeout_ms"] <= 5000  # its Timeout, not the default 3 s

        got = client.get_function(FunctionName="api-fn")
        assert got["Configuration"]["RevisionId"] == made["RevisionId"]
        assert got["Code"]["RepositoryType"] == "S3" and "Concurrency" not in got
        by_arn = client.get_function_configuration(FunctionName=made["FunctionArn"])
        assert by_arn["CodeSha256"] == made["CodeSha256"]
        shown = json.loads(pc.out("fn", "get", "api-fn"))["Configuration"]  # the CLI's view
        assert (shown["Description"], shown["RevisionId"]) == ("made by boto3",
                                                               made["RevisionId"])

        v2 = code_zip("v2")
        updated = client.update_function_code(FunctionName="api-fn", ZipFile=v2)
        assert updated["CodeSha256"] == sha256(v2) and updated["RevisionId"] != made["RevisionId"]
        assert server.invoke("api-fn")[1]["version"] == "v2"  # the warm zygote was replaced

        changed = client.update_function_configuration(
            FunctionName="api-fn", Timeout=1, Environment={"Variables": {"GREETING": "hi"}})
        assert changed["Timeout"] == 1 and changed["CodeSha256"] == sha256(v2)
        assert server.invoke("api-fn")[1]["greeting"] == "hi"
        error, body = server.invoke("api-fn", {"sleep": 3})
        assert error == "Unhandled" and body["errorType"] == "Sandbox.Timedout", body
        with pytest.raises(client.exceptions.PreconditionFailedException):
            client.update_function_configuration(FunctionName="api-fn", Timeout=2,
                                                 RevisionId=made["RevisionId"])

        pc.out("fn", "update", "api-fn", "--timeout", "7")  # the CLI's change, seen by the API
        assert client.get_function_configuration(FunctionName="api-fn")["Timeout"] == 7
    finally:
        deleted = client.delete_function(FunctionName="api-fn")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="api-fn")
    assert "ResourceNotFoundException" in pc("fn", "get", "api-fn").stderr
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        server.invoke("api-fn")


def test_list_functions_pages_through_cli_made_functions(server, pc, tmp_path):
    zip_path = tmp_path / "f.zip"
    zip_path.write_bytes(code_zip("listed"))
    names = [f"page-{i}" for i in range(5)]
    for name in names:
        pc.out("fn", "create", name, "--zip-file", zip_path, "--handler", "main.handler",
               "--description", f"{name} from the CLI")
    try:
        first = server.client.list_functions(MaxItems=2)
        assert len(first["Functions"]) == 2 and first["NextMarker"]
        second = server.client.list_functions(MaxItems=2, Marker=first["NextMarker"])
        assert not {f["FunctionName"] for f in first["Functions"]} & \
            {f["FunctionName"] for f in second["Functions"]}
        seen = [f for page in server.client.get_paginator("list_functions").paginate(
            PaginationConfig={"PageSize": 2}) for f in page["Functions"]
            if f["FunctionName"].startswith("page-")]
        assert [f["FunctionName"] for f in seen] == names
        assert [(f["Description"], f["State"]) for f in seen] == \
            [(f"{name} from the CLI", "Active") for name in names]
    finally:
        for name in names:
            pc("fn", "delete", name)


def test_errors_are_lambda_s(server, pc):
    client, code = server.client, code_zip("e")
    create = dict(Runtime="python3.11", Role=ROLE, Handler="main.handler", Code={"ZipFile": code})
    client.create_function(FunctionName="err-fn", **create)
    try:
        with pytest.raises(client.exceptions.ResourceConflictException) as excinfo:
            client.create_function(FunctionName="err-fn", **create)
        assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)
        with pytest.raises(client.exceptions.ResourceNotFoundException) as excinfo:
            client.get_function_configuration(FunctionName="nobody")
        assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
        assert "function:nobody" in error_of(excinfo)[2]
        with pytest.raises(client.exceptions.InvalidParameterValueException) as excinfo:
            client.create_function(FunctionName="err-node", **dict(create, Runtime="nodejs20.x"))
        assert error_of(excinfo)[1] == 400 and "nodejs20.x" in error_of(excinfo)[2]
        for bad, field in ((dict(Timeout=901), "timeout"), (dict(MemorySize=20480), "memorySize"),
                           (dict(Role="arn:aws:iam::123:role/short-account"), "role")):
            with pytest.raises(client.exceptions.ClientError) as excinfo:
                client.create_function(FunctionName="err-range", **dict(create, **bad))
            code_, status, message = error_of(excinfo)
            assert (code_, status) == ("ValidationException", 400), message
            assert f"at '{field}' failed to satisfy constraint" in message
        with pytest.raises(client.exceptions.ClientError) as excinfo:
            client.get_function(FunctionName="bad;name")
        assert error_of(excinfo)[:2] == ("ValidationException", 400)
        with pytest.raises(client.exceptions.InvalidParameterValueException) as excinfo:
            client.create_function(FunctionName="err-zip", **dict(create, Code={"ZipFile": b"no"}))
        assert error_of(excinfo)[2] == "cannot read the uploaded zip file: File is not a zip file"
        evil = io.BytesIO()
        with zipfile.ZipFile(evil, "w") as z:
            z.writestr("../evil.py", "x")
        with pytest.raises(client.exceptions.InvalidParameterValueException) as excinfo:
            client.create_function(FunctionName="err-zip",
                                   **dict(create, Code={"ZipFile": evil.getvalue()}))
        assert error_of(excinfo)[2] == "the uploaded zip file: entry '../evil.py': path has a " \
            "'..' component"
        assert not (pc.root / "fn" / "uploads").exists()  # uploads are never files
        assert "err-range" not in pc.out("fn", "list") and "err-zip" not in pc.out("fn", "list")
    finally:
        client.delete_function(FunctionName="err-fn")


def raw(port: int, request: bytes) -> tuple:
    """(status, headers and body text) of one raw HTTP request."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and b"Content-Length: " in data:
                head, _, body = data.partition(b"\r\n\r\n")
                if len(body) >= int(re.search(rb"Content-Length: (\d+)", head).group(1)):
                    break
    return int(data.split(b" ", 2)[1]), data.decode(errors="replace")


def test_hostile_requests(server):
    status, text = raw(server.port, b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Length: 80000000\r\n\r\n")
    assert status == 413 and "RequestEntityTooLargeException" in text
    assert "smaller than 70167211 bytes for the CreateFunction operation" in text
    status, text = raw(server.port, b"PUT /2015-03-31/functions/x/configuration HTTP/1.1\r\n"
                                    b"Host: x\r\nContent-Length: 7000000\r\n\r\n")
    assert status == 413, text  # other operations keep the 6 MB limit
    for body in (b'{"FunctionName": "a", "FunctionName": "b"}', b'{"Timeout": NaN}', b"[1]",
                 b"{bad", b"[" * 100000):
        status, text = raw(server.port, b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert status == 400 and "InvalidRequestContentException" in text, text
    # a big upload that is not base64 is refused, and the server stays up
    body = json.dumps({"FunctionName": "big", "Runtime": "python3.11", "Role": ROLE,
                       "Handler": "main.handler", "Code": {"ZipFile": "!" * (40 << 20)}})
    status, text = raw(server.port, b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (len(body), body.encode()))
    assert status == 400 and "base64" in text
    assert server.client.get_account_settings()["AccountLimit"]["CodeSizeZipped"] == 50 << 20
    # two uploads over 6 MB are held at once; a third is refused until one ends
    head = b"PUT /2015-03-31/functions/x/code HTTP/1.1\r\nHost: x\r\n" \
           b"Content-Length: 60000000\r\n\r\n"
    slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    try:
        for s in slow:
            s.sendall(head + b"{")
        time.sleep(0.5)
        status, text = raw(server.port, head)
        assert status == 429 and "TooManyRequestsException" in text, text
    finally:
        for s in slow:
            s.close()

    def upload_taken():
        try:  # over 6 MB: it needs a slot (and then the function is not found)
            server.client.update_function_code(FunctionName="nobody", ZipFile=b"z" * (7 << 20))
        except server.client.exceptions.TooManyRequestsException:
            return False
        except server.client.exceptions.ResourceNotFoundException:
            return True
    wait_for(upload_taken, 10, "the uploads' slots to be free again")


def test_large_uploads_and_racing_creates(server):
    """A zip over the 6 MB of other requests is taken (Lambda's limit is 50 MB);
    of four creates of one name at once, one wins and three get 409."""
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as z:
        z.writestr("main.py", "def handler(event, context):\n    return len(open("
                              "'/var/task/blob', 'rb').read())\n")
        z.writestr("blob", os.urandom(9 << 20))
    client = server.client
    create = dict(Runtime="python3.11", Role=ROLE, Handler="main.handler")
    made = client.create_function(FunctionName="big-fn", Code={"ZipFile": big.getvalue()},
                                  **create)
    try:
        assert made["CodeSize"] == len(big.getvalue()) > 9 << 20
        assert server.invoke("big-fn") == (None, 9 << 20)

        def race(_):
            try:
                client.create_function(FunctionName="race-fn", Code={"ZipFile": code_zip("r")},
                                       **create)
                return "created"
            except client.exceptions.ResourceConflictException:
                return "conflict"
        with ThreadPoolExecutor(4) as pool:
            assert sorted(pool.map(race, range(4))) == ["conflict"] * 3 + ["created"]
    finally:
        for name in ("big-fn", "race-fn"):
            try:
                client.delete_function(FunctionName=name)
            except client.exceptions.ResourceNotFoundException:
                pass


def test_reserved_concurrency_is_429_beyond_it(server, pc):
    client = server.client
    client.create_function(FunctionName="conc-fn", Runtime="python3.11", Role=ROLE,
                           Handler="main.handler", Code={"ZipFile": code_zip("c")}, Timeout=10)
    try:
        assert client.put_function_concurrency(FunctionName="conc-fn",
                                               ReservedConcurrentExecutions=1)[
            "ReservedConcurrentExecutions"] == 1
        assert client.get_function_concurrency(
            FunctionName="conc-fn")["ReservedConcurrentExecutions"] == 1
        assert client.get_function(FunctionName="conc-fn")["Concurrency"] == \
            {"ReservedConcurrentExecutions": 1}
        settings = client.get_account_settings()["AccountLimit"]
        assert (settings["ConcurrentExecutions"], settings["UnreservedConcurrentExecutions"]) \
            == (8, 7)
        slow = ThreadPoolExecutor(1).submit(server.invoke, "conc-fn", {"sleep": 3})
        wait_for(lambda: server.status()["in_flight"] == 1, 20, "the slow call")
        with pytest.raises(client.exceptions.TooManyRequestsException) as excinfo:
            server.invoke("conc-fn")
        assert error_of(excinfo)[1] == 429
        assert slow.result()[1]["version"] == "c"
        with pytest.raises(client.exceptions.InvalidParameterValueException):
            client.put_function_concurrency(FunctionName="conc-fn", ReservedConcurrentExecutions=9)
        client.delete_function_concurrency(FunctionName="conc-fn")
        assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(
            FunctionName="conc-fn")
        with ThreadPoolExecutor(2) as pool:  # no limit now: two at once
            results = list(pool.map(lambda _: server.invoke("conc-fn", {"sleep": 1}), range(2)))
        assert [r[0] for r in results] == [None, None]
    finally:
        client.delete_function(FunctionName="conc-fn")


class Cli:
    """The AWS CLI (one version), only --endpoint-url and dummy credentials."""

    def __init__(self, version: str, url: str, home: Path):
        self.aws = CLIS[version]
        assert self.aws.exists(), f"{self.aws} is missing (AWS CLI {version})"
        self.url = url
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                    "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_DEFAULT_OUTPUT": "json",
                    "AWS_CONFIG_FILE": str(home / "no-config"),
                    "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""}
        # no AWS_MAX_ATTEMPTS=1: with it v2 adds "(reached max retries: 0)" to every error

    def __call__(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.aws), "lambda", *args, "--endpoint-url", self.url],
                              capture_output=True, text=True, env=self.env, timeout=60)

    def json(self, *args):
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else None

    def error(self, *args) -> str:
        result = self(*args)
        assert result.returncode != 0, result.stdout  # v2: 254, v1: 255
        return result.stderr.strip()


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_the_aws_cli_manages_functions(server, pc, tmp_path, version):
    cli, name = Cli(version, server.url, tmp_path), f"cli-{version}"
    (tmp_path / "one.zip").write_bytes(code_zip("one"))
    (tmp_path / "two.zip").write_bytes(code_zip("two"))
    made = cli.json("create-function", "--function-name", name, "--runtime", "python3.11",
                    "--role", ROLE, "--handler", "main.handler",
                    "--zip-file", f"fileb://{tmp_path / 'one.zip'}")
    try:
        assert made["FunctionName"] == name and made["State"] == "Active"
        for waiter in ("function-exists", "function-active-v2", "function-updated-v2"):
            assert cli(  # scripts wait for a change to be in effect: it is at once
                "wait", waiter, "--function-name", name).returncode == 0, waiter
        assert made["CodeSha256"] == sha256((tmp_path / "one.zip").read_bytes())
        assert name in [f["FunctionName"] for f in
                        cli.json("list-functions", "--page-size", "1")["Functions"]]
        assert cli.json("get-function", "--function-name", name)["Configuration"]["Role"] == ROLE
        cli.json("update-function-code", "--function-name", name,
                 "--zip-file", f"fileb://{tmp_path / 'two.zip'}")
        assert server.invoke(name)[1]["version"] == "two"
        changed = cli.json("update-function-configuration", "--function-name", name,
                           "--timeout", "30", "--environment", "Variables={GREETING=cli}")
        assert changed["Timeout"] == 30
        assert server.invoke(name)[1]["greeting"] == "cli"
        assert cli.json("put-function-concurrency", "--function-name", name,
                        "--reserved-concurrent-executions", "2") == \
            {"ReservedConcurrentExecutions": 2}
        assert cli.json("get-account-settings")["AccountUsage"]["FunctionCount"] >= 1

        assert cli.error("create-function", "--function-name", name, "--runtime", "python3.11",
                         "--role", ROLE, "--handler", "main.handler",
                         "--zip-file", f"fileb://{tmp_path / 'one.zip'}") == \
            "An error occurred (ResourceConflictException) when calling the CreateFunction " \
            f"operation: Function already exist: {name}"
        assert cli.error("get-function", "--function-name", "nobody-here") == \
            "An error occurred (ResourceNotFoundException) when calling the GetFunction " \
            "operation: Function not found: " \
            "arn:aws:lambda:us-east-1:000000000000:function:nobody-here"
        assert cli.error("create-function", "--function-name", "cli-node", "--runtime",
                         "nodejs20.x", "--role", ROLE, "--handler", "main.handler",
                         "--zip-file", f"fileb://{tmp_path / 'one.zip'}").startswith(
            "An error occurred (InvalidParameterValueException) when calling the "
            "CreateFunction operation: The runtime parameter of 'nodejs20.x' is not supported")
        assert cli.error("update-function-configuration", "--function-name", name,
                         "--timeout", "1000") == \
            "An error occurred (ValidationException) when calling the " \
            "UpdateFunctionConfiguration operation: 1 validation error detected: Value " \
            "'1000' at 'timeout' failed to satisfy constraint: Member must have value less " \
            "than or equal to 900"
    finally:
        # 204 and no body: v2 prints nothing; v1's newer model shows the status
        assert cli.json("delete-function", "--function-name", name) in (None,
                                                                         {"StatusCode": 204})
    assert "ResourceNotFoundException" in cli.error("get-function", "--function-name", name)
