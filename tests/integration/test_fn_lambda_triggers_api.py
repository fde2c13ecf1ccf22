"""Lambda's API for event source mappings and asynchronous invocation
settings on a real `pycontain fn serve`, driven by the AWS CLI (v2 and v1)
and boto3, with real brokers: moto's SQS server and a rabbitmq-server node."""
import json

import boto3
import pytest
from conftest import Engine
from helpers import created_functions, wait_for
from test_fn_lambda_api import Cli, Server
from trigger_helpers import moto, rabbitmq  # noqa: F401 (fixtures)

CODE = '''
def shout(event, context):
    print("RECORDS", len(event.get("Records", [])))
    return {"seen": len(event.get("Records", []))}
def fail(event, context):
    raise RuntimeError("always fails: " + str(event.get("marker")))
'''
ERROR = "An error occurred ({}) when calling the {} operation: "


@pytest.fixture(scope="module")
def functions(engine_env, tmp_path_factory):
    yield from created_functions(engine_env, tmp_path_factory.mktemp("fnesm"), CODE,
                                 {"esm-shout": "app.shout", "esm-fail": "app.fail"})


@pytest.fixture
def server(pc, functions, moto):  # noqa: F811 - the fixture
    """fn serve with credentials for moto's SQS (it takes any) in its environment."""
    engine = Engine(dict(pc.env, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                         AWS_DEFAULT_REGION="us-east-1"))
    srv = Server(engine, "--max-concurrency", "8")
    yield srv
    assert srv.stop() == 0, "".join(srv.lines)


def _counters(server, uuid: str) -> dict:
    return server.status()["triggers"]["mappings"].get(uuid, {}).get("Counters", {})


def test_the_aws_cli_manages_an_sqs_mapping_that_runs(server, pc, moto, tmp_path):  # noqa: F811
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1")
    url = sqs.create_queue(QueueName="esm-cli")["QueueUrl"]
    cli = Cli("v2", server.url, tmp_path)
    made = cli.json("create-event-source-mapping", "--function-name", "esm-shout",
                    "--event-source-arn", url, "--batch-size", "5")
    uuid = made["UUID"]
    try:
        assert made["State"] == "Enabled" and made["BatchSize"] == 5
        assert made["EventSourceArn"] == url
        assert made["FunctionArn"].endswith(":function:esm-shout")
        for n in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
        wait_for(lambda: _counters(server, uuid).get("Processed") == 3, 30,
                 "the mapping to call the function with 3 messages")
        assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
        listed = cli.json("list-event-source-mappings", "--function-name", "esm-shout")
        assert [m["UUID"] for m in listed["EventSourceMappings"]] == [uuid]
        assert cli.json("get-event-source-mapping", "--uuid", uuid)["LastProcessingResult"] \
            == "OK"

        changed = cli.json("update-event-source-mapping", "--uuid", uuid, "--no-enabled",
                           "--batch-size", "7")
        assert changed["State"] == "Disabled" and changed["BatchSize"] == 7
        shown = json.loads(pc.out("fn", "trigger", "get", uuid))  # one store for both
        assert shown["State"] == "Disabled" and shown["BatchSize"] == 7
        wait_for(lambda: uuid not in server.status()["triggers"]["mappings"], 20,
                 "the disabled mapping to stop")

        assert cli.error("create-event-source-mapping", "--function-name", "no-such-fn",
                         "--event-source-arn", url).startswith(
            ERROR.format("ResourceNotFoundException", "CreateEventSourceMapping"))
        assert cli.error("create-event-source-mapping", "--function-name", "esm-shout",
                         "--event-source-arn", "ftp://example/q").startswith(
            ERROR.format("InvalidParameterValueException", "CreateEventSourceMapping") +
            "unsupported event source 'ftp://example/q'")
        assert cli.error("create-event-source-mapping", "--function-name", "esm-shout",
                         "--event-source-arn", url, "--filter-criteria",
                         '{"Filters": [{"Pattern": "{}"}]}') == \
            ERROR.format("InvalidParameterValueException", "CreateEventSourceMapping") + \
            "unknown field 'FilterCriteria'"
        assert cli.error("update-event-source-mapping", "--uuid", uuid, "--batch-size",
                         "20000").startswith(
            ERROR.format("InvalidParameterValueException", "UpdateEventSourceMapping"))
    finally:
        deleted = cli.json("delete-event-source-mapping", "--uuid", uuid)
    assert deleted["State"] == "Deleting" and deleted["UUID"] == uuid
    assert cli.error("get-event-source-mapping", "--uuid", uuid).startswith(
        ERROR.format("ResourceNotFoundException", "GetEventSourceMapping"))
    assert cli.json("list-event-source-mappings")["EventSourceMappings"] == []


def test_list_pages_through_mappings_with_boto3(server):
    made = [server.client.create_event_source_mapping(
        FunctionName="arn:aws:lambda:us-east-1:000000000000:function:esm-shout",
        EventSourceArn=f"http://127.0.0.1:9/000000000000/q{n}", Enabled=False)["UUID"]
        for n in range(3)]
    try:
        pages = server.client.get_paginator("list_event_source_mappings").paginate(
            FunctionName="esm-shout", PaginationConfig={"PageSize": 2})
        sizes, seen = [], []
        for page in pages:
            sizes.append(len(page["EventSourceMappings"]))
            seen += [m["UUID"] for m in page["EventSourceMappings"]]
        assert sizes == [2, 1] and sorted(seen) == sorted(made)
        only = server.client.list_event_source_mappings(
            EventSourceArn="http://127.0.0.1:9/000000000000/q1")["EventSourceMappings"]
        assert [m["UUID"] for m in only] == [made[1]]
        made.append(server.client.create_event_source_mapping(
            FunctionName="esm-shout", EventSourceArn="amqp://app:hunter2@127.0.0.1:9/prod",
            Queues=["jobs"], Enabled=False)["UUID"])
        shown = server.client.get_event_source_mapping(UUID=made[-1])
        assert shown["EventSourceArn"] == "amqp://app:***@127.0.0.1:9/prod"  # no password
        assert shown["Queues"] == ["jobs"] and shown["State"] == "Disabled"
    finally:
        for uuid in made:
            server.client.delete_event_source_mapping(UUID=uuid)


def test_async_settings_through_the_cli_and_a_failed_event_s_record(server, pc, tmp_path):
    failed = tmp_path / "failed"
    failed.mkdir()
    cli = Cli("v1", server.url, tmp_path)
    assert cli.error("get-function-event-invoke-config", "--function-name", "esm-fail") \
        .startswith(ERROR.format("ResourceNotFoundException", "GetFunctionEventInvokeConfig"))
    # a directory of the host is root's command line's to name, never an HTTP client's
    refused = cli.error("put-function-event-invoke-config", "--function-name", "esm-fail",
                        "--destination-config",
                        json.dumps({"OnFailure": {"Destination": str(failed)}}))
    assert refused.startswith(ERROR.format("InvalidParameterValueException",
                                           "PutFunctionEventInvokeConfig")), refused
    pc.out("fn", "trigger", "invoke-config", "esm-fail", "--on-failure", str(failed))
    put = cli.json("update-function-event-invoke-config", "--function-name", "esm-fail",
                   "--maximum-retry-attempts", "0")
    try:
        assert put["MaximumRetryAttempts"] == 0
        assert put["FunctionArn"].endswith(":function:esm-fail")
        changed = cli.json("update-function-event-invoke-config", "--function-name", "esm-fail",
                           "--maximum-event-age-in-seconds", "120")
        assert changed["MaximumEventAgeInSeconds"] == 120 and changed["MaximumRetryAttempts"] == 0
        assert changed["DestinationConfig"]["OnFailure"] == {"Destination": str(failed)}
        (listed,) = cli.json("list-function-event-invoke-configs",
                             "--function-name", "esm-fail")["FunctionEventInvokeConfigs"]
        assert listed["MaximumEventAgeInSeconds"] == 120
        assert cli.error("put-function-event-invoke-config", "--function-name", "esm-fail",
                         "--maximum-retry-attempts", "5").startswith(
            ERROR.format("InvalidParameterValueException", "PutFunctionEventInvokeConfig"))

        outfile = tmp_path / "out.json"
        result = cli("invoke", "--function-name", "esm-fail", "--invocation-type", "Event",
                     "--payload", '{"marker": "cli-event"}', str(outfile))
        assert result.returncode == 0 and json.loads(result.stdout)["StatusCode"] == 202, \
            result.stderr
        (path,) = wait_for(lambda: list(failed.glob("*.json")), 30, "the failure record")
    finally:
        assert cli.json("delete-function-event-invoke-config",
                        "--function-name", "esm-fail") in (None, {})
    record = json.loads(path.read_text())
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"marker": "cli-event"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "always fails: cli-event"
    assert cli.json("list-function-event-invoke-configs",
                    "--function-name", "esm-fail")["FunctionEventInvokeConfigs"] == []


def test_a_rabbitmq_exchange_as_the_on_failure_destination(server, rabbitmq):  # noqa: F811
    import pika
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", rabbitmq))
    channel = connection.channel()
    channel.exchange_declare("lambda-failures", "direct")
    channel.queue_declare("failed-events")
    channel.queue_bind("failed-events", "lambda-failures", "esm-fail")
    target = f"amqp://guest:{{}}@127.0.0.1:{rabbitmq}" \
        "?exchange=lambda-failures&routing_key=esm-fail"
    try:
        put = server.client.put_function_event_invoke_config(
            FunctionName="esm-fail", MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": target.format("guest")}})
        assert put["DestinationConfig"]["OnFailure"]["Destination"] == target.format("***")
        response = server.client.invoke(FunctionName="esm-fail", InvocationType="Event",
                                        Payload=b'{"marker": "to-rabbit"}')
        assert response["StatusCode"] == 202

        def received():
            return channel.basic_get("failed-events", auto_ack=True)[2]
        body = wait_for(received, 30, "the record on the exchange's queue")
        record = json.loads(body)
        assert record["requestContext"]["requestId"] == \
            response["ResponseMetadata"]["RequestId"]
        assert record["requestPayload"] == {"marker": "to-rabbit"}

        # an exchange that is not there: the record is kept, the event not called again
        server.client.update_function_event_invoke_config(
            FunctionName="esm-fail", DestinationConfig={"OnFailure": {
                "Destination": f"amqp://127.0.0.1:{rabbitmq}?exchange=missing"}})
        server.client.invoke(FunctionName="esm-fail", InvocationType="Event", Payload=b"{}")
        status = wait_for(lambda: (s := server.status())["triggers"]["async"]["Undelivered"]
                          and s["triggers"]["async"]["Queued"] == 0 and s, 30,
                          "the undelivered record")
        assert status["functions"]["esm-fail"]["calls"] == 2
    finally:
        server.client.delete_function_event_invoke_config(FunctionName="esm-fail")
        channel.queue_delete("failed-events")
        channel.exchange_delete("lambda-failures")
        connection.close()


def test_the_aws_cli_maps_a_rabbitmq_queue(server, rabbitmq, tmp_path):  # noqa: F811
    import pika
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", rabbitmq))
    channel = connection.channel()
    channel.queue_declare("cli-jobs")
    secret = tmp_path / "broker.json"  # Secrets Manager's shape, in a file
    secret.write_text('{"username": "guest", "password": "guest"}')
    cli = Cli("v2", server.url, tmp_path)
    refused = cli.error("create-event-source-mapping", "--function-name", "esm-shout",
                        "--event-source-arn", f"amqp://127.0.0.1:{rabbitmq}", "--queues",
                        "cli-jobs", "--source-access-configurations",
                        f"Type=BASIC_AUTH,URI={secret}")  # a file of the server's host
    assert "InvalidParameterValueException" in refused, refused
    made = cli.json("create-event-source-mapping", "--function-name", "esm-shout",
                    "--event-source-arn", f"amqp://guest:guest@127.0.0.1:{rabbitmq}",
                    "--queues", "cli-jobs", "--batch-size", "5")
    try:
        assert made["Queues"] == ["cli-jobs"] and made["BatchSize"] == 5
        for n in range(3):
            channel.basic_publish("", "cli-jobs", f"job {n}".encode())
        wait_for(lambda: _counters(server, made["UUID"]).get("Processed") == 3, 30,
                 "the mapping to call the function with 3 messages")
        assert channel.queue_declare("cli-jobs", passive=True).method.message_count == 0
    finally:
        cli.json("delete-event-source-mapping", "--uuid", made["UUID"])
        channel.queue_delete("cli-jobs")
        connection.close()
