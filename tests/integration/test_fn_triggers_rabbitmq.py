"""A RabbitMQ queue as an event source, against a real rabbitmq-server."""
import base64
import json
import uuid

import pika
import pytest
from trigger_helpers import Recorder, free_port, rabbitmq, store, wait_until  # noqa: F401

from pycontain.triggers import store as mappings
from pycontain.triggers.runner import Runner


def _queue(port: int, messages=(), properties=None) -> str:
    name = f"q-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    channel = connection.channel()
    channel.queue_declare(name)
    for body in messages:
        channel.basic_publish("", name, body, properties)
    connection.close()
    return name


def _depth(port: int, queue: str) -> int:
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def _run(recorder, mapping):
    made = mappings.create({"FunctionName": "f", **mapping})
    return made, Runner(recorder, log=lambda line: None, reload_every=0.05).start()


def _messages(event):
    (key, items), = event["rmqMessagesByQueue"].items()
    return key, items


def test_250_messages_in_batches_of_at_most_100_each_once(store, rabbitmq):
    properties = pika.BasicProperties(
        content_type="text/plain", content_encoding="utf-8", delivery_mode=2, priority=3,
        headers={"text": "v1", "number": 10}, correlation_id="corr", reply_to="back",
        expiration="600000", message_id="mid", timestamp=1700000000, type="kind",
        user_id="guest", app_id="app")
    bodies = [f"message {n}".encode() for n in range(250)]
    queue = _queue(rabbitmq, bodies, properties)
    recorder = Recorder(delay=0.05)
    made, runner = _run(recorder, {"EventSourceArn": f"amqp://127.0.0.1:{rabbitmq}",
                                   "Queues": [queue], "BatchSize": 100})
    try:
        wait_until(lambda: sum(len(_messages(e)[1]) for e in recorder.events()) >= 250,
                   what="250 messages")
        wait_until(lambda: mappings.get(made["UUID"])["Counters"]["Processed"] == 250,
                   what="the counters")
    finally:
        runner.stop(5.0)
    seen = []
    for event in recorder.events():
        assert event["eventSource"] == "aws:rmq"
        assert event["eventSourceArn"] == f"amqp://127.0.0.1:{rabbitmq}"
        key, items = _messages(event)
        assert key == f"{queue}::/" and 1 <= len(items) <= 100
        seen += [base64.b64decode(item["data"]) for item in items]
    assert sorted(seen) == sorted(bodies)  # each exactly once
    assert recorder.max_in_flight == 1
    item = _messages(recorder.events()[0])[1][0]
    assert item["redelivered"] is False
    assert item["basicProperties"] == {
        "contentType": "text/plain", "contentEncoding": "utf-8",
        "headers": {"text": {"bytes": [118, 49]}, "number": 10}, "deliveryMode": 2,
        "priority": 3, "correlationId": "corr", "replyTo": "back", "expiration": "600000",
        "messageId": "mid", "timestamp": "Nov 14, 2023, 10:13:20 PM", "type": "kind",
        "userId": "guest", "appId": "app", "clusterId": None,
        "bodySize": len(base64.b64decode(item["data"]))}
    shown = mappings.get(made["UUID"])
    assert shown["LastProcessingResult"] == "OK" and shown["Counters"]["Failed"] == 0
    assert _depth(rabbitmq, queue) == 0


def test_a_failed_batch_comes_back_redelivered(store, rabbitmq):
    queue = _queue(rabbitmq, [b"a", b"b", b"c"])
    recorder = Recorder(answer=lambda name, event, n: ValueError("first") if n == 1 else {})
    made, runner = _run(recorder, {"EventSourceArn": f"amqp://127.0.0.1:{rabbitmq}",
                                   "Queues": [queue], "BatchSize": 10,
                                   "MaximumBatchingWindowInSeconds": 0.3})
    try:
        wait_until(lambda: mappings.get(made["UUID"])["Counters"]["Processed"] == 3,
                   what="the retry to succeed")
    finally:
        runner.stop(5.0)
    first, second = (_messages(e)[1] for e in recorder.events()[:2])
    assert [m["redelivered"] for m in first] == [False] * 3
    assert [m["redelivered"] for m in second] == [True] * 3
    assert [base64.b64decode(m["data"]) for m in second] == [b"a", b"b", b"c"]
    assert mappings.get(made["UUID"])["Counters"] == {"Processed": 3, "Failed": 3,
                                                      "Retried": 3, "Batches": 2}


@pytest.mark.parametrize("case", ["no broker", "bad password", "no queue"])
def test_a_mapping_that_cannot_consume_says_why_and_loses_nothing(store, rabbitmq, tmp_path,
                                                                  case):
    queue = _queue(rabbitmq, [b"kept"])
    port = free_port() if case == "no broker" else rabbitmq
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"username": "guest", "password": "wrong" if
                                  case == "bad password" else "guest"}))
    recorder = Recorder()
    made, runner = _run(recorder, {
        "EventSourceArn": f"amqp://127.0.0.1:{port}",
        "Queues": ["missing-queue" if case == "no queue" else queue],
        "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": str(secret)}]})
    try:
        shown = wait_until(lambda: (m := mappings.get(made["UUID"]))["LastProcessingResult"]
                           .startswith("PROBLEM") and m, what="the problem")
    finally:
        runner.stop(5.0)
    reason = shown["StateTransitionReason"]
    assert {"no broker": "cannot connect to the broker",
            "bad password": "refused the credentials of user 'guest'",
            "no queue": "queue 'missing-queue'"}[case] in reason, reason
    assert "wrong" not in reason
    assert recorder.calls == [] and _depth(rabbitmq, queue) == 1


def test_a_message_with_an_impossible_timestamp_does_not_wedge_the_mapping(store, rabbitmq):
    queue = _queue(rabbitmq, [b"far"], pika.BasicProperties(timestamp=10 ** 12))
    _queue_more(rabbitmq, queue, [b"good"])
    recorder = Recorder()
    _processed(recorder, rabbitmq, queue, 2)
    items = [m for e in recorder.events() for m in _messages(e)[1]]
    assert [m["basicProperties"]["timestamp"] for m in items] == [10 ** 12, None]
    assert _depth(rabbitmq, queue) == 0


def test_a_message_that_cannot_be_shown_is_dropped_and_the_rest_go_on(store, rabbitmq,
                                                                       monkeypatch):
    from pycontain.triggers import rabbitmq as source
    shown = source.message

    def message(properties, redelivered, body):
        if body == b"poison":
            raise ValueError("cannot show it")
        return shown(properties, redelivered, body)
    monkeypatch.setattr(source, "message", message)
    queue = _queue(rabbitmq, [b"a", b"poison", b"b"])
    recorder = Recorder()
    made = _processed(recorder, rabbitmq, queue, 2)
    bodies = [base64.b64decode(m["data"]) for e in recorder.events() for m in _messages(e)[1]]
    assert bodies == [b"a", b"b"]
    assert mappings.get(made["UUID"])["Counters"]["Failed"] == 1
    assert _depth(rabbitmq, queue) == 0  # dropped, not requeued


def _processed(recorder, port: int, queue: str, count: int) -> dict:
    """A mapping of queue run until it has processed count messages; the mapping."""
    made, runner = _run(recorder, {"EventSourceArn": f"amqp://127.0.0.1:{port}",
                                   "Queues": [queue], "MaximumBatchingWindowInSeconds": 0.2})
    try:
        wait_until(lambda: mappings.get(made["UUID"])["Counters"]["Processed"] == count,
                   timeout=10, what=f"{count} messages processed")
    finally:
        runner.stop(5.0)
    return made


def _queue_more(port: int, queue: str, messages) -> None:
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    for body in messages:
        connection.channel().basic_publish("", queue, body)
    connection.close()
