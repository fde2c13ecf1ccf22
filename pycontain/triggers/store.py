"""Event source mappings, stored with the functions:

    <data root>/fn/triggers/mappings/UUID.json  a mapping (Lambda's fields)
    <data root>/fn/triggers/state/UUID.json     what fn serve's runner saw last
                                                (state, reason, counters)
    <data root>/fn/triggers/events/             the async invocation queue
    <data root>/fn/triggers/invoke-config/NAME.json
    <data root>/fn/triggers/undelivered/ID.json  destination records a
                                                destination did not take

Every write is atomic (temp + fsync + rename). `pycontain fn trigger` and
fn serve's API both go through here; a running server's runner picks up
changes within RELOAD seconds.
"""
import os
import time
import uuid as uuidlib

from pycontain import paths
from pycontain.errors import PycontainError
from pycontain.fsutil import read_json, write_json
from pycontain.triggers import mapping as fields

ACCOUNT, REGION = "000000000000", "us-east-1"
MAX_MAPPINGS = 1000
UUID_CHARS = frozenset("0123456789abcdef-")


def root(*parts) -> str:
    path = paths.ensure_dir(os.path.join(paths.data_root(), "fn", "triggers"))
    for part in parts:
        path = paths.ensure_dir(os.path.join(path, part))
    return path


def function_config(name: str) -> dict:
    """The function's configuration (name or ARN, as Lambda takes both)."""
    from pycontain.fn.registry import functions
    if not isinstance(name, str) or not name:
        raise fields.invalid("FunctionName is required")
    short = name.split(":function:", 1)[-1].split(":", 1)[0] if name.startswith("arn:") \
        else name
    return functions.get(short)


def _path(uuid: str, kind: str = "mappings") -> str:
    if not isinstance(uuid, str) or len(uuid) != 36 or not set(uuid) <= UUID_CHARS:
        raise PycontainError(f"ResourceNotFoundException: The resource you requested does not "
                             f"exist. (no mapping {str(uuid)[:64]!r})")
    return os.path.join(root(kind), f"{uuid}.json")


def rule_arn(mapping: dict) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{mapping['FunctionName']}-" \
           f"{mapping['UUID'][:8]}"


def _stored(uuid: str) -> dict:
    try:
        return read_json(_path(uuid))
    except FileNotFoundError:
        raise PycontainError(f"ResourceNotFoundException: The resource you requested does "
                             f"not exist. (no mapping {uuid})") from None


def _shown(stored: dict) -> dict:
    """What Get/List return: the mapping, its state and the runner's view."""
    out = {k: v for k, v in stored.items() if k not in ("FunctionName", "Enabled")}
    if "://" in out.get("EventSourceArn", ""):  # a broker's password is not shown
        out["EventSourceArn"] = fields.redact(out["EventSourceArn"])
    out["State"] = "Enabled" if stored["Enabled"] else "Disabled"
    try:
        state = read_json(_path(stored["UUID"], "state"))
    except (FileNotFoundError, ValueError):
        state = {}
    if state.get("Version") == stored["LastModified"]:
        out.update({k: v for k, v in state.items() if k != "Version"})
    out.setdefault("LastProcessingResult", "No records processed")
    out.setdefault("StateTransitionReason", "USER_INITIATED")
    out.setdefault("Counters", {"Processed": 0, "Failed": 0, "Retried": 0, "Batches": 0})
    return out


def create(request: dict) -> dict:
    request = dict(request)
    config = function_config(request.get("FunctionName"))
    checked = fields.check(request)
    if len(os.listdir(root("mappings"))) >= MAX_MAPPINGS:
        raise PycontainError(f"ResourceConflictException: at most {MAX_MAPPINGS} mappings")
    stored = {"UUID": str(uuidlib.uuid4()), **checked,
              "FunctionName": config["FunctionName"], "FunctionArn": config["FunctionArn"],
              "LastModified": time.time()}
    if fields.kind_of(stored) == fields.SCHEDULE:
        stored["EventSourceArn"] = rule_arn(stored)
        stored["CreatedAt"] = stored["LastModified"]
    write_json(_path(stored["UUID"]), stored)
    return _shown(stored)


def get(uuid: str) -> dict:
    return _shown(_stored(uuid))


def load_all() -> list:
    """Every stored mapping, as stored (the runner's input)."""
    found = []
    for entry in sorted(os.listdir(root("mappings"))):
        if entry.endswith(".json") and len(entry) == 41:
            try:
                found.append(read_json(os.path.join(root("mappings"), entry)))
            except (FileNotFoundError, ValueError):
                continue
    return found


def list_all(function: str | None = None, source: str | None = None) -> list:
    name = function_config(function)["FunctionName"] if function else None
    return [_shown(m) for m in load_all()
            if (name is None or m["FunctionName"] == name) and
            (source is None or source in (m.get("EventSourceArn"),
                                          fields.redact(m.get("EventSourceArn") or "")))]


def update(uuid: str, changes: dict) -> dict:
    stored = _stored(uuid)
    bad = set(changes) - fields.UPDATABLE
    if bad:
        raise fields.invalid(f"{sorted(bad)[0][:64]} cannot be updated")
    merged = {k: v for k, v in stored.items() if k in fields.KNOWN}
    merged.update({k: v for k, v in changes.items() if v is not None})
    if "FunctionName" in changes:
        config = function_config(changes["FunctionName"])
        merged["FunctionName"] = config["FunctionName"]
        stored["FunctionArn"] = config["FunctionArn"]
    checked = fields.check(merged)
    stored.update(checked)
    stored["LastModified"] = max(time.time(), stored["LastModified"] + 1e-6)
    write_json(_path(uuid), stored)
    return _shown(stored)


def delete(uuid: str) -> dict:
    shown = get(uuid)
    for kind in ("mappings", "state"):
        try:
            os.unlink(_path(uuid, kind))
        except FileNotFoundError:
            pass
    shown["State"] = "Deleting"
    return shown


def write_state(stored: dict, state: dict) -> None:
    """The runner's view of a mapping (ignored once the mapping changes)."""
    if os.path.exists(_path(stored["UUID"])):
        write_json(_path(stored["UUID"], "state"), {**state, "Version": stored["LastModified"]},
                   sync=False)
