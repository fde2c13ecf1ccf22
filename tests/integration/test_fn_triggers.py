"""Event source mappings: the store and `fn trigger`, schedules with a manual
clock, and the durable async queue (retries, maximum age, destinations)."""
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from trigger_helpers import Recorder, store, wait_until  # noqa: F401 (fixture)

from pycontain.triggers import invoke_config
from pycontain.triggers import store as mappings
from pycontain.triggers.clock import ManualClock
from pycontain.triggers.runner import Runner

PYCONTAIN = str(Path(sys.executable).parent / "pycontain")


def cli(*args, ok=True):
    done = subprocess.run([PYCONTAIN, "fn", "trigger", *args], capture_output=True, text=True,
                          timeout=60)
    if ok:
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None
    return done


def test_cli_creates_lists_gets_updates_and_deletes(store):
    made = cli("create", "--function-name", "f", "--event-source-arn",
               "amqp://127.0.0.1:5672", "--queues", "jobs", "--batch-size", "50")
    assert made["State"] == "Enabled" and made["BatchSize"] == 50
    assert made["FunctionArn"].endswith(":function:f") and made["Queues"] == ["jobs"]
    assert made["MaximumBatchingWindowInSeconds"] == 0.5
    assert made["LastProcessingResult"] == "No records processed"
    uuid = made["UUID"]
    assert [m["UUID"] for m in cli("list")["EventSourceMappings"]] == [uuid]
    assert cli("list", "--function-name", "g")["EventSourceMappings"] == []
    changed = cli("update", uuid, "--batch-size", "7", "--no-enabled", "--function-name", "g")
    assert (changed["BatchSize"], changed["State"]) == (7, "Disabled")
    assert cli("get", uuid)["FunctionArn"].endswith(":function:g")
    assert cli("delete", uuid)["State"] == "Deleting"
    gone = cli("get", uuid, ok=False)
    assert gone.returncode == 125 and gone.stderr.startswith("pycontain: ResourceNotFound")
    assert len(gone.stderr.splitlines()) == 1


@pytest.mark.parametrize("args,message", [
    (["--function-name", "f", "--schedule", "rate(1 minutes)"], "ScheduleExpression"),
    (["--function-name", "f", "--schedule", "cron(0 10 * * * *)"], "must be '?'"),
    (["--function-name", "nope", "--schedule", "rate(1 minute)"], "Function not found"),
    (["--function-name", "f", "--event-source-arn", "kafka://x:1"], "unsupported event source"),
    (["--function-name", "f", "--event-source-arn", "amqp://127.0.0.1:99999",
      "--queues", "q"], "bad broker address"),
    (["--function-name", "f", "--event-source-arn", "amqp://127.0.0.1"], "exactly one queue"),
    (["--function-name", "f", "--event-source-arn", "http://127.0.0.1:5000/q"],
     "bad SQS queue URL"),
    (["--function-name", "f", "--event-source-arn", "http://127.0.0.1:5000/1/q",
      "--batch-size", "0"], "between 1 and 10000"),
    (["--function-name", "f", "--event-source-arn", "amqp://h", "--queues", "q",
      "--function-response-types", "ReportBatchItemFailures"], "only ReportBatchItemFailures"),
    (["--function-name", "f", "--event-source-arn", "arn:aws:s3:::bucket-1",
      "--events", "s3:Nope:*"], "unknown S3 event type"),
])
def test_bad_mappings_are_refused_at_create(store, args, message):
    done = cli("create", *args, ok=False)
    assert done.returncode == 125, done.stdout
    assert done.stderr.startswith("pycontain: ") and message in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert mappings.load_all() == []


def test_rate_schedule_fires_asynchronous_scheduled_events(store):
    """rate(1 minute), the clock advanced 3 minutes: 3 Scheduled Events."""
    clock = ManualClock()
    made = mappings.create({"FunctionName": "f", "ScheduleExpression": "rate(1 minute)"})
    recorder = Recorder(answer=lambda *a: {"ok": True})
    runner = Runner(recorder, log=lambda line: None, clock=clock, reload_every=0.05).start()
    try:
        wait_until(lambda: made["UUID"] in runner.sources, what="the schedule to start")
        clock.advance(3 * 60 + 1)
        events = wait_until(lambda: len(recorder.events()) >= 3 and recorder.events(),
                            what="three scheduled events")
        clock.advance(20)  # not a whole period more: nothing new
        wait_until(lambda: runner.events.status()["Queued"] == 0, what="the queue to drain")
    finally:
        runner.stop(2.0)
    assert len(recorder.events()) == 3
    created = dt.datetime.fromtimestamp(made["LastModified"], dt.timezone.utc)
    times = sorted(e["time"] for e in events)
    assert times == [(created + dt.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
                     for n in (1, 2, 3)]
    for event in events:
        assert set(event) == {"version", "id", "detail-type", "source", "account", "time",
                              "region", "resources", "detail"}
        assert (event["source"], event["detail-type"], event["detail"]) == (
            "aws.events", "Scheduled Event", {})
        assert event["resources"] == [made["EventSourceArn"]]
        assert made["EventSourceArn"].startswith("arn:aws:events:us-east-1:")
    assert len({e["id"] for e in events}) == 3
    assert mappings.get(made["UUID"])["Counters"]["Processed"] == 3


def test_cron_schedule_with_l_and_hash_over_a_month(store):
    """Last day of the month at 23:30 and the 1st Monday at 09:00, January 2027."""
    start = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    clock = ManualClock(start)
    mappings.create({"FunctionName": "f", "ScheduleExpression": "cron(30 23 L * ? *)"})
    mappings.create({"FunctionName": "g", "ScheduleExpression": "cron(0 9 ? * 2#1 *)"})
    recorder = Recorder()
    runner = Runner(recorder, log=lambda line: None, clock=clock, reload_every=0.05).start()
    try:
        wait_until(lambda: len(runner.sources) == 2, what="two schedules")
        for _ in range(31 * 4):  # a month, 6 hours at a time
            clock.advance(6 * 3600)
        wait_until(lambda: len(recorder.events()) >= 2, what="two firings")
    finally:
        runner.stop(2.0)
    fired = sorted((name, event["time"]) for name, event, _ in recorder.calls)
    assert fired == [("f", "2027-01-31T23:30:00Z"), ("g", "2027-01-04T09:00:00Z")]


def test_async_retries_twice_then_succeeds(store):
    recorder = Recorder(answer=lambda name, event, n: ValueError("no") if n < 3 else {"n": n})
    runner = Runner(recorder, log=lambda line: None, retry_delay=0.1).start()
    try:
        runner.events.accept("f", b'{"k": 1}')
        wait_until(lambda: runner.events.status()["Succeeded"] == 1, what="success")
    finally:
        runner.stop(2.0)
    assert [e for e in recorder.events()] == [{"k": 1}] * 3
    assert len({rid for _, _, rid in recorder.calls}) == 1  # Lambda keeps the request id
    assert runner.events.status() == {"Accepted": 1, "Succeeded": 1, "Retried": 2,
                                      "Failed": 0, "Undelivered": 0, "Queued": 0}


def test_async_failure_lands_in_the_destination_directory(store, tmp_path):
    failed = tmp_path / "failed"
    failed.mkdir()
    invoke_config.put({"FunctionName": "f", "MaximumRetryAttempts": 1,
                       "DestinationConfig": {"OnFailure": {"Destination": str(failed)}}})
    recorder = Recorder(answer=lambda *a: ValueError("always"))
    runner = Runner(recorder, log=lambda line: None, retry_delay=0.05).start()
    try:
        request_id = runner.events.accept("f", b'{"k": 2}')
        wait_until(lambda: list(failed.glob("*.json")), what="the destination record")
    finally:
        runner.stop(2.0)
    assert len(recorder.calls) == 2  # MaximumRetryAttempts 1
    (path,) = failed.glob("*.json")
    record = json.loads(path.read_text())
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": request_id, "condition": "RetriesExhausted", "approximateInvokeCount": 2,
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"}
    assert record["requestPayload"] == {"k": 2}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "always"
    assert os.listdir(mappings.root("events")) == []


def test_async_event_older_than_its_maximum_age_is_not_called(store, tmp_path):
    failed = tmp_path / "failed"
    failed.mkdir()
    invoke_config.put({"FunctionName": "f", "MaximumEventAgeInSeconds": 60,
                       "DestinationConfig": {"OnFailure": {"Destination": f"file://{failed}"}}})
    clock = ManualClock()
    recorder = Recorder(answer=lambda *a: ValueError("down"))
    runner = Runner(recorder, log=lambda line: None, clock=clock, retry_delay=30)
    runner.events.accept("f", b"{}")
    runner.start()
    try:
        # the retry is scheduled 30 s after the failure: advance only once it is
        wait_until(lambda: runner.events.status()["Retried"] == 1, what="the first retry")
        clock.advance(61)
        wait_until(lambda: list(failed.glob("*.json")), what="the destination record")
    finally:
        runner.stop(2.0)
    record = json.loads(next(failed.glob("*.json")).read_text())
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert len(recorder.calls) == 1


def test_invoke_config_cli_checks_its_values(store, tmp_path):
    done = cli("invoke-config", "f", "--maximum-retry-attempts", "3", ok=False)
    assert done.returncode == 125 and "between 0 and 2" in done.stderr
    done = cli("invoke-config", "f", "--on-failure", str(tmp_path / "missing"), ok=False)
    assert done.returncode == 125 and "does not exist" in done.stderr
    shown = cli("invoke-config", "f", "--maximum-retry-attempts", "0", "--on-failure",
                str(tmp_path))
    assert shown["MaximumRetryAttempts"] == 0
    assert shown["DestinationConfig"]["OnFailure"] == {"Destination": str(tmp_path)}
    assert cli("invoke-config", "f")["MaximumEventAgeInSeconds"] == 21600
