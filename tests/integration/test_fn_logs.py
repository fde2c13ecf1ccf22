"""`pycontain fn logs NAME`: the log stream `fn serve` keeps for each function,
as CloudWatch Logs shows a Lambda function's (START, the handler's own
output, END, REPORT; Event invocations too), bounded in size."""
import json
import re
import signal
import subprocess
import threading
import time
import zipfile

import boto3
import pytest
from botocore.config import Config
from helpers import Reader, one_error_line, reap, wait_for

CODE = '''
import sys
print("module imported, once per zygote")
def talk(event, context):
    print("hello from", context.function_name, event.get("n"))
    print("to stderr", file=sys.stderr)
    sys.stdout.write("no newline at the end")
    return "ok"
def loud(event, context):
    sys.stdout.write(("x" * 1023 + "\\n") * event["kb"])
    print("last line", event["n"])
    return "ok"
'''
NAMES = ("talk", "loud", "broken")  # broken: app.broken does not exist
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def served(pc, tmp_path):
    """Functions talk and loud, a `fn serve` and boto3 on it."""
    zip_path = tmp_path / "app.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr("app.py", CODE)
    for name in NAMES:
        pc("fn", "delete", name)
        pc.out("fn", "create", name, "--zip-file", zip_path, "--handler", f"app.{name}")
    proc = pc.popen("fn", "serve", "--port", "0")
    try:
        line = proc.stderr.readline()
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line).group(1)
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test",
                           config=Config(retries={"total_max_attempts": 1}))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        for name in NAMES:
            pc("fn", "delete", name)


def invoke(client, name, event, kind="RequestResponse") -> str:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event), InvocationType=kind)
    return response["ResponseMetadata"]["RequestId"]


def test_logs_show_the_handler_s_output_and_reports(served, pc):
    rid = invoke(served, "talk", {"n": 1})
    event_rid = invoke(served, "talk", {"n": 2}, "Event")
    wait_for(lambda: f"END RequestId: {event_rid}" in pc.out("fn", "logs", "talk"), 20,
             "the Event invocation's log")
    lines = pc.out("fn", "logs", "talk").splitlines()
    assert all(re.match(STAMP + " ", line) for line in lines), lines
    messages = [line.split(" ", 1)[1] for line in lines]
    first = messages.index(f"START RequestId: {rid} Version: $LATEST")
    assert messages[first + 1:first + 5] == [
        "hello from talk 1", "to stderr", "no newline at the end", f"END RequestId: {rid}"]
    assert re.match(rf"REPORT RequestId: {rid}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                    r"Memory Size: 128 MB\tMax Memory Used: \d+ MB", messages[first + 5])
    assert "hello from talk 2" in messages  # the Event call's output too
    assert pc.out("fn", "logs", "talk", "--since", "2099-01-01T00:00:00") == ""
    assert len(pc.out("fn", "logs", "talk", "--since", "10m").splitlines()) == len(lines)
    assert messages.index("module imported, once per zygote") < first  # the zygote's import
    assert "hello from talk" not in pc.out("fn", "logs", "loud")  # a stream per function
    rid = invoke(served, "broken", {})
    messages = [line.split(" ", 1)[1] for line in pc.out("fn", "logs", "broken").splitlines()]
    assert messages[-3:] == [f"START RequestId: {rid} Version: $LATEST",
                             "[ERROR] Runtime.HandlerNotFound: Handler 'broken' missing on "
                             "module 'app'", f"END RequestId: {rid}"], messages
    line = one_error_line(pc("fn", "logs", "nobody-here"))
    assert "ResourceNotFoundException" in line
    line = one_error_line(pc("fn", "logs", "talk", "--since", "yesterday"))
    assert "invalid --since" in line


def test_follow_shows_new_calls_as_they_end(served, pc):
    follower = pc.popen("fn", "logs", "talk", "-f", stderr=subprocess.DEVNULL)
    try:
        reader = Reader(follower.stdout)
        time.sleep(0.5)
        rid = invoke(served, "talk", {"n": 3})
        reader.expect(rf"{STAMP} hello from talk 3\n", 10)
        reader.expect(rf"{STAMP} REPORT RequestId: {rid}\t", 10)
        follower.send_signal(signal.SIGINT)
        assert follower.wait(10) == 130
    finally:
        reap(follower)


def test_the_stream_is_bounded(served, pc):
    """Each call writes ~300 KB (its last 256 KB are kept): the stream rotates
    at 1 MB and keeps one older file, so it never holds more than ~2 MB."""
    for n in range(10):
        assert served.invoke(FunctionName="loud", Payload=json.dumps({"kb": 300, "n": n}))[
            "StatusCode"] == 200
    logs = pc.root / "fn" / "functions" / "loud" / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["stream.log", "stream.log.1"]
    assert sum(p.stat().st_size for p in logs.iterdir()) <= 2 << 20
    shown = pc.out("fn", "logs", "loud")
    assert "last line 9" in shown and "last line 0" not in shown
