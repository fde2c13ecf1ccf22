"""SQS queues and S3 notifications as event sources, against moto's server."""
import json
import uuid
from urllib.parse import unquote_plus

import boto3
import pytest
from trigger_helpers import Recorder, moto, store, wait_until  # noqa: F401 (fixtures)

from pycontain.triggers import store as mappings
from pycontain.triggers.runner import Runner


def _sqs(endpoint):
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")


def _queue(endpoint, visibility=1) -> str:
    return _sqs(endpoint).create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}", Attributes={
        "VisibilityTimeout": str(visibility)})["QueueUrl"]


def _run(recorder, mapping):
    made = mappings.create({"FunctionName": "f", **mapping})
    return made, Runner(recorder, log=lambda line: None, reload_every=0.05).start()


def test_report_batch_item_failures_redelivers_only_those(store, moto):
    url = _queue(moto)
    sqs = _sqs(moto)
    for n in range(20):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}", MessageAttributes={
            "n": {"DataType": "Number", "StringValue": str(n)}})
    failing = {"m3", "m7", "m12"}

    def answer(name, event, call):
        return {"batchItemFailures": [
            {"itemIdentifier": r["messageId"]} for r in event["Records"]
            if r["body"] in failing and r["attributes"]["ApproximateReceiveCount"] == "1"]}
    recorder = Recorder(answer=answer)
    made, runner = _run(recorder, {"EventSourceArn": url, "BatchSize": 10,
                                   "FunctionResponseTypes": ["ReportBatchItemFailures"]})
    try:
        wait_until(lambda: mappings.get(made["UUID"])["Counters"]["Processed"] == 20,
                   what="every message to succeed")
    finally:
        runner.stop(5.0)
    records = [r for event in recorder.events() for r in event["Records"]]
    assert all(len(e["Records"]) <= 10 for e in recorder.events())
    seen = {}
    for record in records:
        seen.setdefault(record["body"], []).append(
            record["attributes"]["ApproximateReceiveCount"])
    assert seen == {f"m{n}": ["1", "2"] if f"m{n}" in failing else ["1"] for n in range(20)}
    record = records[0]
    queue_name = url.rsplit("/", 1)[1]
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == f"arn:aws:sqs:us-east-1:123456789012:{queue_name}"
    assert set(record) == {"messageId", "receiptHandle", "body", "attributes",
                           "messageAttributes", "md5OfBody", "eventSource", "eventSourceARN",
                           "awsRegion"}
    assert record["messageAttributes"]["n"] == {
        "stringValue": record["body"][1:], "stringListValues": [], "binaryListValues": [],
        "dataType": "Number"}
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert mappings.get(made["UUID"])["Counters"]["Failed"] == 3
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def test_a_failed_call_leaves_the_batch_for_the_visibility_timeout(store, moto):
    url = _queue(moto)
    _sqs(moto).send_message(QueueUrl=url, MessageBody="again")
    recorder = Recorder(answer=lambda name, event, n: ValueError("x") if n == 1 else None)
    made, runner = _run(recorder, {"EventSourceArn": url})
    try:
        wait_until(lambda: len(recorder.calls) == 2, what="the redelivery")
    finally:
        runner.stop(5.0)
    counts = [e["Records"][0]["attributes"]["ApproximateReceiveCount"]
              for e in recorder.events()]
    assert counts == ["1", "2"]


def test_a_missing_queue_is_the_mappings_state(store, moto):
    made, runner = _run(Recorder(), {"EventSourceArn": f"{moto}/123456789012/no-such-queue"})
    try:
        shown = wait_until(lambda: (m := mappings.get(made["UUID"]))["LastProcessingResult"]
                           .startswith("PROBLEM") and m, what="the problem")
    finally:
        runner.stop(5.0)
    assert "no-such-queue" in shown["StateTransitionReason"]


def test_s3_object_events_through_a_queue_with_a_suffix_filter(store, moto):
    url = _queue(moto, visibility=30)
    sqs, s3 = _sqs(moto), boto3.client("s3", endpoint_url=moto, region_name="us-east-1")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    s3.create_bucket(Bucket="bkt")
    s3.put_bucket_notification_configuration(Bucket="bkt", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    recorder = Recorder()
    jpg = mappings.create({"FunctionName": "f", "EventSourceArn": "arn:aws:s3:::bkt",
                           "Queues": [url], "Filter": {"Key": {"FilterRules": [
                               {"Name": "suffix", "Value": ".jpg"}]}}})
    runner = Runner(recorder, log=lambda line: None, reload_every=0.05).start()
    try:
        s3.put_object(Bucket="bkt", Key="a b/c.txt", Body=b"hello")
        wait_until(lambda: mappings.get(jpg["UUID"])["Counters"]["Batches"] >= 1,
                   what="the .txt notification to be read")
        assert recorder.calls == []  # the suffix filter suppressed it
        mappings.update(jpg["UUID"], {"Filter": {}, "FunctionName": "g"})
        wait_until(lambda: getattr(runner.sources.get(jpg["UUID"]), "name", "") == "g",
                   what="the changed mapping to run")  # the old one's polls are over
        put = s3.put_object(Bucket="bkt", Key="a b/c.txt", Body=b"hello")
        wait_until(lambda: recorder.calls, what="the event")
    finally:
        runner.stop(5.0)
    (name, event, _), = recorder.calls
    (record,) = event["Records"]
    assert name == "g"
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["eventVersion"].startswith("2.")
    assert record["s3"]["bucket"]["name"] == "bkt" and record["s3"]["bucket"]["arn"] == \
        "arn:aws:s3:::bkt"
    key = record["s3"]["object"]["key"]  # URL-encoded as S3 does (moto also encodes '/')
    assert key.startswith("a+b") and unquote_plus(key) == "a b/c.txt"
    assert record["s3"]["object"]["size"] == 5
    assert record["s3"]["object"]["eTag"] == put["ETag"].strip('"')


def test_poison_s3_notifications_are_dropped_and_the_good_one_called(store, moto):
    url = _queue(moto, visibility=1)
    sqs = _sqs(moto)
    good = {"Records": [{"eventName": "ObjectCreated:Put", "eventSource": "aws:s3",
                         "s3": {"bucket": {"name": "bkt"}, "object": {"key": "ok.jpg"}}}]}
    bad_key = json.loads(json.dumps(good))
    bad_key["Records"][0]["s3"]["object"]["key"] = 1
    for body in ("[" * 100000, json.dumps(bad_key), json.dumps(good)):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    recorder = Recorder()
    made, runner = _run(recorder, {"EventSourceArn": "arn:aws:s3:::bkt", "Queues": [url]})
    try:
        wait_until(lambda: recorder.calls, timeout=10, what="the good notification")
        wait_until(lambda: mappings.get(made["UUID"])["Counters"]["Batches"] >= 3,
                   timeout=10, what="every notification to be read")
    finally:
        runner.stop(5.0)
    assert [e["Records"][0]["s3"]["object"]["key"] for e in recorder.events()] == ["ok.jpg"]
    assert mappings.get(made["UUID"])["LastProcessingResult"] == "OK"
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)


def test_an_item_identifier_that_is_not_a_string_fails_the_whole_batch(store, moto):
    url = _queue(moto, visibility=1)
    _sqs(moto).send_message(QueueUrl=url, MessageBody="m")
    recorder = Recorder(answer=lambda name, event, n: {
        "batchItemFailures": [{"itemIdentifier": [1]}]} if n == 1 else {})
    made, runner = _run(recorder, {"EventSourceArn": url,
                                   "FunctionResponseTypes": ["ReportBatchItemFailures"]})
    try:
        wait_until(lambda: mappings.get(made["UUID"])["Counters"]["Processed"] == 1,
                   timeout=15, what="the redelivered batch to succeed")
    finally:
        runner.stop(5.0)
    counts = [e["Records"][0]["attributes"]["ApproximateReceiveCount"]
              for e in recorder.events()]
    shown = mappings.get(made["UUID"])
    assert counts == ["1", "2"] and shown["Counters"]["Failed"] == 1
    assert shown["LastProcessingResult"] == "OK"
