"""fn serve runs the triggers: Event invocations through the durable queue
(they survive kill -9), mappings' state in the status JSON; real jails."""
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
    assert not list(done.iterdir())
    second = Server(pc)
    try:
        (record,) = wait_for(lambda: list(done.iterdir()), 30, "the event to run")
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
