"""A function's asynchronous invocation settings (PutFunctionEventInvokeConfig):
MaximumRetryAttempts 0-2 (default 2), MaximumEventAgeInSeconds 60-21600
(default 21600), DestinationConfig.OnFailure.Destination: a directory
(an absolute path or file:///PATH), an SQS queue (its URL, or its ARN on
AWS itself) or a RabbitMQ exchange (amqp://HOST:PORT[/VHOST]?exchange=NAME
[&routing_key=KEY]). Update merges into what is set; Put replaces it."""
import os
import time
from urllib.parse import parse_qs

from pycontain.errors import PycontainError
from pycontain.fsutil import read_json, write_json
from pycontain.triggers import mapping as fields
from pycontain.triggers import store

MAX_RETRIES, MAX_AGE = 2, 21600
KNOWN = {"FunctionName", "MaximumRetryAttempts", "MaximumEventAgeInSeconds",
         "DestinationConfig", "Qualifier"}


def _path(name: str) -> str:
    return os.path.join(store.root("invoke-config"), f"{name}.json")


def _exchange(target: str) -> dict:
    """A RabbitMQ exchange: amqp://[USER:PASS@]HOST[:PORT][/VHOST]?exchange=NAME
    [&routing_key=KEY] (exchange= empty: the default exchange, KEY a queue)."""
    base, _, query = target.partition("?")
    try:
        given = parse_qs(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        given = {}
    if set(given) - {"exchange", "routing_key"} or "exchange" not in given or \
            any(len(v) != 1 or len(v[0]) > 255 for v in given.values()):
        raise fields.invalid(f"bad RabbitMQ destination {fields.redact(target)[:200]!r}: "
                             "amqp://HOST:PORT[/VHOST]?exchange=NAME[&routing_key=KEY]")
    return {**fields.rabbitmq_address(base), "exchange": given["exchange"][0],
            "routing_key": given.get("routing_key", [""])[0]}


def destination(target: str) -> dict:
    """{"dir": PATH}, {"sqs": queue} or {"amqp": exchange} for a destination,
    or the error."""
    if target.startswith("file://"):
        target = target[len("file://"):]
    if target.startswith("/"):
        if not os.path.isdir(target):
            raise fields.invalid(f"destination directory {target[:200]} does not exist")
        return {"dir": target}
    if target.startswith(("amqp://", "amqps://")):
        return {"amqp": _exchange(target)}
    return {"sqs": fields.sqs_queue(target)}


def put(request: dict) -> dict:
    unknown = set(request) - KNOWN
    if unknown:
        raise fields.invalid(f"unknown field {sorted(unknown)[0][:64]!r}")
    config = store.function_config(request.get("FunctionName"))
    name = config["FunctionName"]
    out = {"FunctionArn": config["FunctionArn"],
           "MaximumRetryAttempts": fields.number(request, "MaximumRetryAttempts", 0,
                                                  MAX_RETRIES, MAX_RETRIES),
           "MaximumEventAgeInSeconds": fields.number(request, "MaximumEventAgeInSeconds", 60,
                                                      MAX_AGE, MAX_AGE),
           "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}},
           "LastModified": time.time()}
    given = fields.typed(request, "DestinationConfig", dict, {}) or {}
    for key in ("OnSuccess", "OnFailure"):
        try:
            target = fields.typed(fields.typed(given, key, dict, {}) or {}, "Destination", str)
        except PycontainError:
            raise fields.invalid(f"DestinationConfig.{key}: {{Destination: STRING}}") from None
        if target is not None:
            if len(target) > fields.MAX_TEXT:
                raise fields.invalid(f"DestinationConfig.{key}.Destination is too long")
            destination(target)
            out["DestinationConfig"][key] = {"Destination": target}
    write_json(_path(name), out)
    return shown(out)


def shown(config: dict) -> dict:
    """config as answers show it: a broker destination's password is not."""
    destinations = {k: {"Destination": fields.redact(v["Destination"])} if v else v
                    for k, v in config["DestinationConfig"].items()}
    return {**config, "DestinationConfig": destinations}


def update(request: dict) -> dict:
    """UpdateFunctionEventInvokeConfig: the fields given change, the rest stay."""
    config = store.function_config(request.get("FunctionName"))
    current = get(config["FunctionName"], missing_ok=False)
    merged = {k: current[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")}
    merged.update({k: v for k, v in request.items() if v is not None})
    given = fields.typed(request, "DestinationConfig", dict, {}) or {}
    merged["DestinationConfig"] = {k: given.get(k) or current["DestinationConfig"].get(k) or {}
                                   for k in ("OnSuccess", "OnFailure")}
    return put(merged)


def get(name: str, missing_ok: bool = True) -> dict:
    """The function's settings (the defaults when it has none)."""
    try:
        return read_json(_path(name))
    except FileNotFoundError:
        if not missing_ok:
            raise PycontainError("ResourceNotFoundException: The function "
                                 f"{name} doesn't have an EventInvokeConfig") from None
        return {"MaximumRetryAttempts": MAX_RETRIES, "MaximumEventAgeInSeconds": MAX_AGE,
                "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}}}


def delete(name: str) -> None:
    get(name, missing_ok=False)
    os.unlink(_path(name))
