"""`pycontain fn serve` driven by the real AWS CLI (`aws lambda invoke`), unchanged.

Both major versions, as ./test.sh installs them: version 2 (Debian's `awscli`
package, /usr/bin/aws: a raw JSON payload needs `--cli-binary-format
raw-in-base64-out`) and version 1 (PyPI's `awscli`, a test dependency, in the
virtualenv: payloads are raw already). Each gets dummy credentials and a region
through its own environment only.
"""
import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import created_functions

CLIS = {"v2": (Path("/usr/bin/aws"), ["--cli-binary-format", "raw-in-base64-out"]),
        "v1": (Path(sys.executable).parent / "aws", [])}

CODE = '''
def echo(event, context):
    print("cli log line from", context.function_name)
    return {"event": event, "rid": context.aws_request_id}
def fail(event, context):
    raise ValueError("cli boom")
'''
FUNCTIONS = {"cli-echo": "app.echo", "cli-fail": "app.fail"}


@pytest.fixture(scope="module")
def functions(engine_env, tmp_path_factory):
    yield from created_functions(engine_env, tmp_path_factory.mktemp("fnserve-awscli"), CODE,
                                 FUNCTIONS)


class Cli:
    """`aws lambda invoke` against a running `pycontain fn serve`."""

    def __init__(self, version: str, url: str, home: Path):
        self.aws, self.options = CLIS[version]
        assert self.aws.exists(), f"{self.aws} is missing: ./test.sh installs AWS CLI {version}"
        self.url, self.home = url, home
        self.env = {  # the CLI's whole environment: no profile, config or metadata lookups
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_DEFAULT_OUTPUT": "json",
            "AWS_CONFIG_FILE": str(home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": ""}

    def invoke(self, name: str, *args: str, payload: str = "{}") -> tuple:
        """(completed process, the status JSON it printed or None, OUTFILE's bytes or None)."""
        outfile = self.home / f"out-{os.urandom(4).hex()}.json"
        result = subprocess.run(
            [str(self.aws), "lambda", "invoke", "--endpoint-url", self.url, "--function-name",
             name, "--payload", payload, *self.options, *args, str(outfile)],
            capture_output=True, text=True, env=self.env, timeout=60)
        status = json.loads(result.stdout) if result.returncode == 0 else None
        body = outfile.read_bytes() if outfile.exists() else None
        return result, status, body


@pytest.fixture(params=sorted(CLIS, reverse=True))
def cli(request, pc, functions, tmp_path):
    """A `pycontain fn serve` on a free loopback port, and the CLI pointed at it;
    stopped with SIGTERM afterwards, which must leave no zygote behind."""
    proc = pc.popen("fn", "serve", "--port", "0")
    lines = [proc.stderr.readline()]
    try:
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", lines[0])
        assert match, lines[0]
        threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
        yield Cli(request.param, match.group(1), tmp_path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(20)
        except subprocess.TimeoutExpired:  # its log has every thread's stack by now
            proc.kill()
            code = proc.wait()
        assert code == 0, "".join(lines)


def calls(url: str, name: str) -> int:
    with urllib.request.urlopen(f"{url}/status") as r:
        return json.load(r)["functions"].get(name, {}).get("calls", 0)


def test_invoke_returns_the_result_and_the_log_tail(cli):
    result, status, body = cli.invoke("cli-echo", "--log-type", "Tail",
                                      payload='{"name": "aws cli"}')
    assert result.returncode == 0, result.stderr
    assert status["StatusCode"] == 200 and status["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in status
    answer = json.loads(body)
    assert answer["event"] == {"name": "aws cli"}
    log = base64.b64decode(status["LogResult"]).decode()
    assert "cli log line from cli-echo" in log
    assert re.search(rf"REPORT RequestId: {answer['rid']}\tDuration: [\d.]+ ms", log), log


def test_handler_error_is_a_function_error(cli):
    result, status, body = cli.invoke("cli-fail")
    assert result.returncode == 0, result.stderr  # the function ran: the CLI succeeds
    assert status["StatusCode"] == 200 and status["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "cli boom"


def test_event_and_dry_run_invocations(cli):
    result, status, _ = cli.invoke("cli-echo", "--invocation-type", "DryRun")
    assert result.returncode == 0, result.stderr
    assert status["StatusCode"] == 204
    assert calls(cli.url, "cli-echo") == 0  # a dry run only checks the function exists
    result, status, _ = cli.invoke("cli-echo", "--invocation-type", "Event")
    assert result.returncode == 0, result.stderr
    assert status["StatusCode"] == 202
    deadline = time.monotonic() + 20
    while calls(cli.url, "cli-echo") == 0:  # it runs in the background, after the answer
        assert time.monotonic() < deadline, "the Event invocation never ran"
        time.sleep(0.05)


def test_unknown_function_is_the_cli_s_resource_not_found_error(cli):
    result, status, body = cli.invoke("no-such-function")
    assert result.returncode != 0 and status is None, result.stdout  # v2: 254, v1: 255
    assert "An error occurred (ResourceNotFoundException) when calling the Invoke " \
           "operation" in result.stderr, result.stderr
    assert "no-such-function" in result.stderr
