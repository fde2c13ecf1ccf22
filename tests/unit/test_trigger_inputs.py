"""Hostile input to the event triggers, read directly: RabbitMQ properties,
S3 notification records, ReportBatchItemFailures answers, management fields."""
import json

import pytest

from pycontain.errors import PycontainError
from pycontain.triggers import mapping, rabbitmq


@pytest.mark.parametrize("seconds,shown", [
    (1700000000, "Nov 14, 2023, 10:13:20 PM"), (10 ** 12, 10 ** 12), (-(10 ** 15), -(10 ** 15)),
    (2 ** 64, 2 ** 64)])
def test_rabbitmq_timestamp_shows_an_impossible_date_as_its_number(seconds, shown):
    assert rabbitmq._timestamp(seconds) == shown


GOOD = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "bkt"},
                                                 "object": {"key": "a+b.jpg"}}}
POISON = [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "bkt"},
                                                    "object": {"key": 1}}},
          {"eventName": 5, "s3": {"bucket": {"name": "bkt"}, "object": {"key": "k"}}},
          {"eventName": "ObjectCreated:Put", "s3": {"bucket": "bkt", "object": []}},
          {"eventName": "ObjectCreated:Put", "s3": None}, [1], "text", None]


def test_s3_records_of_the_wrong_types_are_skipped_and_refused_by_the_webhook():
    from pycontain.triggers import s3events
    s3_mapping = {"EventSourceArn": "arn:aws:s3:::bkt"}
    assert s3events.matching(s3_mapping, {"Records": [*POISON, GOOD]}) == [GOOD]
    assert s3events.checked({"Records": [GOOD]}) == [GOOD]
    assert s3events.checked({"EventName": "s3:TestEvent"}) == []
    for event in [{"Records": [poison]} for poison in POISON] + [[1], {"Records": 1}]:
        with pytest.raises(PycontainError, match="^InvalidRequestContentException: "):
            s3events.checked(event)
    with pytest.raises(PycontainError, match="^InvalidRequestContentException: .*too deep"):
        s3events.receive(None, b"[" * 100000)
    with pytest.raises(PycontainError, match="^InvalidRequestContentException: not an S3"):
        s3events.receive(None, json.dumps({"Records": POISON[:1]}).encode())


@pytest.mark.parametrize("answer", [
    {"batchItemFailures": [{"itemIdentifier": [1]}]},
    {"batchItemFailures": [{"itemIdentifier": {"a": 1}}]},
    {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": None}]},
    {"batchItemFailures": [{"itemIdentifier": "other"}]}, {"batchItemFailures": "m1"}])
def test_an_invalid_batch_item_failure_fails_the_whole_batch(answer):
    from pycontain.triggers.sqs import SqsSource
    messages = [{"MessageId": "m1"}, {"MessageId": "m2"}]
    assert SqsSource._reported(answer, messages) == {"m1", "m2"}
    assert SqsSource._reported({"batchItemFailures": [{"itemIdentifier": "m2"}]},
                               messages) == {"m2"}


def test_a_failing_sqs_poller_stops_and_joins_the_others_and_is_reported():
    import threading
    from pycontain.triggers.sqs import SqsSource
    source = SqsSource({"FunctionName": "f", "UUID": "u" * 36,
                        "ScalingConfig": {"MaximumConcurrency": 3}}, runner=None)
    source._open = lambda: None
    running = []

    def poller():
        running.append(threading.current_thread())
        if threading.current_thread().name.endswith("-2"):
            raise RuntimeError("side poller failed")
        while not source._over():
            source.stop.wait(0.01)
    source._poller = poller
    failed = []
    consumer = threading.Thread(target=lambda: failed.append(pytest.raises(
        RuntimeError, source.consume)), daemon=True)
    consumer.start()
    consumer.join(5)
    assert not consumer.is_alive() and failed, "consume went on beside a dead poller"
    assert len(running) == 3 and not any(t.is_alive() for t in running)


@pytest.mark.parametrize("given", [
    {"Filter": {"Key": "x"}}, {"Filter": {"Key": {"FilterRules": [{"Name": 5, "Value": "a"}]}}},
    {"Filter": {"Key": {"FilterRules": ["prefix"]}}}, {"Filter": "x"},
    {"Filter": {"Key": {"FilterRules": [{"Name": None, "Value": "a"}]}}},
    {"Filter": {"Key": {"FilterRules": {"Name": "prefix"}}}}])
def test_a_malformed_s3_filter_is_invalid_parameter_value(given):
    with pytest.raises(PycontainError, match="^InvalidParameterValueException: "):
        mapping.check({"EventSourceArn": "arn:aws:s3:::bkt", **given})


@pytest.mark.parametrize("destinations", [
    {"OnFailure": "x"}, {"OnSuccess": ["x"]}, {"OnFailure": {"Destination": 5}}])
def test_a_malformed_destination_config_is_invalid_parameter_value(destinations, monkeypatch):
    from pycontain.triggers import invoke_config
    monkeypatch.setattr(invoke_config.store, "function_config",
                        lambda name: {"FunctionName": name, "FunctionArn": "arn"})
    monkeypatch.setattr(invoke_config, "write_json", lambda path, obj: None)
    with pytest.raises(PycontainError, match="^InvalidParameterValueException: "):
        invoke_config.put({"FunctionName": "f", "DestinationConfig": destinations})
