"""The durable async queue on real files with a manual clock, and Invoke's
check of an Event invocation's body."""
import json
import os
import time
from types import SimpleNamespace

import pytest

from pycontain.fn.outcome import Outcome
from pycontain.triggers import asyncq
from pycontain.triggers.clock import ManualClock


class Runner:
    """What the queue needs of triggers.runner.Runner: every call fails."""

    def __init__(self):
        self.clock, self.calls = ManualClock(), []

    def invoke(self, name, payload, request_id):
        self.calls.append(payload)
        return Outcome(request_id=request_id, function_error="Unhandled", payload=b"{}")

    def log(self, line):
        pass

    def changed(self):
        pass


def _drain(queue):
    queue._dispatch()
    deadline = time.monotonic() + 5
    while queue.threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not queue.threads


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("PYCONTAIN_ROOT", str(tmp_path / "data"))
    return Runner()


def test_a_pass_reads_no_event_that_is_not_due_and_a_restart_finds_them(runner, monkeypatch):
    queue = asyncq.AsyncQueue(runner, retry_delay=60)
    for n in range(5):
        queue.accept("f", b'{"n": %d}' % n)
    _drain(queue)  # each fails once: due again in 60 s
    assert len(runner.calls) == 5
    reads = []
    monkeypatch.setattr(asyncq, "read_json", lambda path: reads.append(path) or
                        json.load(open(path)))
    for _ in range(3):
        _drain(queue)
    assert reads == [] and len(runner.calls) == 5
    restarted = asyncq.AsyncQueue(runner, retry_delay=60)  # the index, rebuilt from disk
    assert restarted.status()["Queued"] == 5
    runner.clock.advance(61)
    _drain(restarted)
    assert len(runner.calls) == 10


def test_a_deeply_nested_payload_reaches_the_on_failure_destination(runner, tmp_path,
                                                                     monkeypatch):
    target = tmp_path / "dlq"
    target.mkdir()
    monkeypatch.setattr(asyncq.invoke_config, "get", lambda name: {
        "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 600,
        "DestinationConfig": {"OnFailure": {"Destination": str(target)}}})
    queue = asyncq.AsyncQueue(runner, retry_delay=60)
    queue.accept("f", b"[" * 100000)
    _drain(queue)
    _drain(queue)
    assert len(runner.calls) == 1 and queue.status()["Queued"] == 0
    (record,) = [json.load(open(target / name)) for name in os.listdir(target)]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == "[" * 100000


def test_an_engine_bug_counts_an_attempt_and_backs_off(runner, monkeypatch):
    queue = asyncq.AsyncQueue(runner, retry_delay=60)
    monkeypatch.setattr(queue, "_attempt", lambda path, item: runner.calls.append(1) or
                        1 / 0)
    queue.accept("f", b"{}")
    for _ in range(3):
        _drain(queue)
    assert runner.calls == [1]
    (item,) = [json.load(open(os.path.join(queue.dir, e))) for e in os.listdir(queue.dir)]
    assert item["Attempts"] == 1 and item["Due"] >= runner.clock.time() + 60


@pytest.mark.parametrize("kind", ["Event", "RequestResponse"])
@pytest.mark.parametrize("body", [b"not json", b"[" * 100000, b"\xff"])
def test_an_invoke_body_that_is_not_json_is_400_on_both_paths(kind, body):
    from pycontain.fn.server.gateway import InvokeApi
    accepted, called = [], []
    pool = SimpleNamespace(lookup=lambda name: None,
                           invoke=lambda *args, **kwargs: called.append(args))
    api = InvokeApi(pool, log=lambda line: None)
    api.triggers = SimpleNamespace(events=SimpleNamespace(
        accept=lambda *args: accepted.append(args)))
    answer = api(SimpleNamespace(method="POST", body=body,
                                 target="/2015-03-31/functions/f/invocations",
                                 headers={"x-amz-invocation-type": kind}))
    assert answer.status == 400, answer.body
    assert ("x-amzn-ErrorType", "InvalidRequestContentException") in answer.headers
    assert accepted == [] and called == []
