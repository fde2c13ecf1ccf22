"""`pycontain fn trigger ...`: event source mappings (schedules, RabbitMQ, SQS,
S3 events) and asynchronous invocation settings; fn serve runs them."""
import json

import click

from pycontain.cli.fn_commands import fn
from pycontain.errors import PycontainError


@fn.group()
def trigger():
    """Event source mappings: what calls a function (run by fn serve)."""


def _print(obj) -> None:
    click.echo(json.dumps(obj, indent=4))


def _json(text, what):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PycontainError(f"{what} is not JSON: {exc}") from None


def _mapping_options(func):
    options = [
        click.option("--event-source-arn", "EventSourceArn",
                     help="amqp://[USER:PASS@]HOST:PORT[/VHOST], an SQS queue URL or ARN, "
                     "or arn:aws:s3:::BUCKET."),
        click.option("--schedule", "ScheduleExpression",
                     help="rate(N minutes|hours|days) or cron(6 fields), in UTC."),
        click.option("--batch-size", "BatchSize", type=int, help="Records per call."),
        click.option("--maximum-batching-window-in-seconds", "MaximumBatchingWindowInSeconds",
                     type=float, help="Seconds to gather a batch (0 to 300)."),
        click.option("--queues", "Queues", multiple=True,
                     help="RabbitMQ: the queue; S3: the notification queue's URL."),
        click.option("--function-response-types", "FunctionResponseTypes", multiple=True,
                     type=click.Choice(["ReportBatchItemFailures"])),
        click.option("--source-access-configurations", "SourceAccessConfigurations",
                     help='JSON: [{"Type": "BASIC_AUTH", "URI": FILE}, '
                     '{"Type": "VIRTUAL_HOST", "URI": VHOST}].'),
        click.option("--scaling-config", "ScalingConfig",
                     help='JSON: {"MaximumConcurrency": N}.'),
        click.option("--events", "Events", multiple=True, help="S3 event types, e.g. "
                     "s3:ObjectCreated:*."),
        click.option("--filter", "Filter", help="S3's notification filter, JSON: "
                     '{"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}}.'),
        click.option("--enabled/--no-enabled", "Enabled", default=None,
                     help="Run the mapping (default) or keep it stopped."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _request(values: dict) -> dict:
    request = {}
    for key, value in values.items():
        if value is None or value == ():
            continue
        if key in ("SourceAccessConfigurations", "ScalingConfig", "Filter"):
            value = _json(value, f"--{key}")
        elif isinstance(value, tuple):
            value = list(value)
        request[key] = value
    return request


@trigger.command()
@click.option("--function-name", "FunctionName", required=True, help="The function to call.")
@_mapping_options
def create(**values):
    """Create an event source mapping (or a schedule) for a function."""
    from pycontain.triggers import store
    _print(store.create(_request(values)))


@trigger.command(name="list")
@click.option("--function-name", help="Only this function's mappings.")
@click.option("--event-source-arn", help="Only this source's mappings.")
def list_(function_name, event_source_arn):
    """List event source mappings as JSON."""
    from pycontain.triggers import store
    _print({"EventSourceMappings": store.list_all(function_name, event_source_arn)})


@trigger.command()
@click.argument("uuid")
def get(uuid):
    """Show a mapping: its settings, state, last result and counters."""
    from pycontain.triggers import store
    _print(store.get(uuid))


@trigger.command()
@click.argument("uuid")
@click.option("--function-name", "FunctionName", help="Call another function.")
@_mapping_options
def update(uuid, **values):
    """Change a mapping (fn serve restarts it within a second)."""
    from pycontain.triggers import store
    values.pop("EventSourceArn")
    _print(store.update(uuid, _request(values)))


@trigger.command()
@click.argument("uuid")
def delete(uuid):
    """Delete a mapping (fn serve stops it within a second)."""
    from pycontain.triggers import store
    _print(store.delete(uuid))


@trigger.command(name="invoke-config")
@click.argument("name")
@click.option("--maximum-retry-attempts", "MaximumRetryAttempts", type=int,
              help="Retries of a failed asynchronous call (0 to 2; default 2).")
@click.option("--maximum-event-age-in-seconds", "MaximumEventAgeInSeconds", type=int,
              help="Oldest event still called (60 to 21600; default 21600).")
@click.option("--on-failure", help="Destination of failed events: a directory, an SQS "
              "queue URL or ARN, or a RabbitMQ exchange: "
              "amqp://HOST:PORT[/VHOST]?exchange=NAME[&routing_key=KEY].")
@click.option("--on-success", help="Destination of successful events.")
@click.option("--delete", "remove", is_flag=True, help="Back to the defaults.")
def invoke_config(name, on_failure, on_success, remove, **values):
    """Show or set function NAME's asynchronous invocation settings."""
    from pycontain.triggers import invoke_config as settings
    if remove:
        settings.delete(name)
        return
    request = {k: v for k, v in values.items() if v is not None}
    destinations = {k: {"Destination": v} for k, v in
                    (("OnFailure", on_failure), ("OnSuccess", on_success)) if v}
    if request or destinations:
        _print(settings.put({"FunctionName": name, **request,
                             "DestinationConfig": destinations}))
    else:
        _print(settings.shown(settings.get(name)))
