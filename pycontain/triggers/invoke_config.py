"""A function's asynchronous invocation settings (PutFunctionEventInvokeConfig):
MaximumRetryAttempts 0-2 (default 2), MaximumEventAgeInSeconds 60-21600
(default 21600), DestinationConfig.OnFailure.Destination: a directory
(an absolute path or file:///PATH) or an SQS queue (its URL, or its ARN on
AWS itself)."""
import os
import time

from pycontain.errors import PycontainError
from pycontain.fsutil import read_json, write_json
from pycontain.triggers import mapping as fields
from pycontain.triggers import store

MAX_RETRIES, MAX_AGE = 2, 21600
KNOWN = {"FunctionName", "MaximumRetryAttempts", "MaximumEventAgeInSeconds",
         "DestinationConfig", "Qualifier"}


def _path(name: str) -> str:
    return os.path.join(store.root("invoke-config"), f"{name}.json")


def destination(target: str) -> dict:
    """{"dir": PATH} or {"sqs": queue} for a destination, or the error."""
    if target.startswith("file://"):
        target = target[len("file://"):]
    if target.startswith("/"):
        if not os.path.isdir(target):
            raise fields.invalid(f"destination directory {target[:200]} does not exist")
        return {"dir": target}
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
        target = (given.get(key) or {}).get("Destination")
        if target is not None:
            if not isinstance(target, str) or len(target) > fields.MAX_TEXT:
                raise fields.invalid(f"DestinationConfig.{key}.Destination must be a string")
            destination(target)
            out["DestinationConfig"][key] = {"Destination": target}
    write_json(_path(name), out)
    return out


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
