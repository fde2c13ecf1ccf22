"""fn serve runs the triggers: Event invocations through the durable queue
(they survive kill -9), mappings' state in the status JSON; real jails. Destination
records are written to a temporary name, then renamed: only *.json counts."""
import json
import os
import signal

import pytest
from helpers import created_functions, wait_for
from test_fn_serve import Server

CODE = '''
def shout(event, context):
    print("RAN", event.get("marker"))
    return event
'''


@pytest.fixture(scope="module")
def functions(engine_env, tmp_path_factory):
    yield from created_functions(engine_env, tmp_path_factory.mktemp("fntriggers"), CODE,
                                 {"shout": "app.shout"})


def test_an_accepted_event_runs_after_kill_9(pc, functions, tmp_path):
    done = tmp_path / "succeeded"
    done.mkdir()
    pc.out("fn", "trigger", "invoke-config", "shout", "--on-success", done)
    first = Server(pc)
    try:
        response = first.invoke("shout", {"marker": "m-kill9"}, InvocationType="Event")
        assert response["StatusCode"] == 202
        os.kill(first.proc.pid, signal.SIGKILL)  # accepted, not yet run (zygote starting)
        first.proc.wait(10)
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
    assert not list(done.glob("*.json"))
    second = Server(pc)
    try:
        (record,) = wait_for(lambda: list(done.glob("*.json")), 30, "the event to run")
        status = wait_for(lambda: (s := second.status())["triggers"]["async"]["Queued"] == 0
                          and s, 10, "the queue to drain")
    finally:
        assert second.stop() == 0
        pc.out("fn", "trigger", "invoke-config", "shout", "--delete")
    record = json.loads(record.read_text())
    assert record["requestPayload"] == {"marker": "m-kill9"}
    assert record["responsePayload"] == {"marker": "m-kill9"}
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert status["triggers"]["async"]["Succeeded"] == 1
    assert status["functions"]["shout"]["calls"] == 1


def test_a_schedule_mapping_shows_in_the_status_json(pc, functions):
    made = json.loads(pc.out("fn", "trigger", "create", "--function-name", "shout",
                             "--schedule", "rate(5 minutes)"))
    server = Server(pc)
    try:
        status = wait_for(lambda: (s := server.status())["triggers"]["mappings"] and s, 10,
                          "the mapping to start")
        assert status["triggers"]["mappings"][made["UUID"]]["FunctionName"] == "shout"
        shown = json.loads(pc.out("fn", "trigger", "get", made["UUID"]))
        assert shown["State"] == "Enabled" and "Counters" in shown
    finally:
        assert server.stop() == 0
        pc.out("fn", "trigger", "delete", made["UUID"])


def _minio(key: str) -> bytes:
    """A notification as MinIO's webhook target sends it (recorded shape)."""
    return json.dumps({"EventName": "s3:ObjectCreated:Put", "Key": f"photos/{key}", "Records": [{
        "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "",
        "eventTime": "2026-12-04T19:00:00.000Z", "eventName": "s3:ObjectCreated:Put",
        "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"principalId": "minioadmin", "region": "",
                              "sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "17E0B4C1D0C5F5A1",
                             "x-minio-origin-endpoint": "http://127.0.0.1:9000"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
               "bucket": {"name": "photos", "ownerIdentity": {"principalId": "minioadmin"},
                          "arn": "arn:aws:s3:::photos"},
               "object": {"key": key, "size": 3, "eTag": "acbd18db4cc2f85cedef654fccc4a4d8",
                          "contentType": "image/jpeg", "sequencer": "17E0B4C1D1A8F9C2"}},
        "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO (linux; amd64)"}}]}
    ).encode()


def test_minio_webhook_notifications_with_a_suffix_filter(pc, functions, tmp_path):
    import urllib.request
    done = tmp_path / "succeeded"
    done.mkdir()
    pc.out("fn", "trigger", "invoke-config", "shout", "--on-success", done)
    made = json.loads(pc.out("fn", "trigger", "create", "--function-name", "shout",
                             "--event-source-arn", "arn:aws:s3:::photos", "--filter",
                             '{"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}}'))
    server = Server(pc)
    try:
        answers = []
        for key in ("notes.txt", "cat+1.jpg"):
            request = urllib.request.Request(f"{server.url}/pycontain/s3-events",
                                             data=_minio(key), method="POST")
            with urllib.request.urlopen(request) as r:
                answers.append(json.load(r)["Queued"])
        (record,) = wait_for(lambda: list(done.glob("*.json")), 30, "the event to run")
    finally:
        assert server.stop() == 0
        pc.out("fn", "trigger", "delete", made["UUID"])
        pc.out("fn", "trigger", "invoke-config", "shout", "--delete")
    assert answers == [0, 1]
    (s3_record,) = json.loads(record.read_text())["requestPayload"]["Records"]
    assert s3_record["eventName"] == "ObjectCreated:Put"
    assert s3_record["s3"]["object"]["key"] == "cat+1.jpg"
