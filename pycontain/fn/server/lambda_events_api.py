"""Lambda's API for what calls a function, on `fn serve`: event source
mappings and asynchronous invocation settings, kept in the triggers' store
(pycontain.triggers), which `pycontain fn trigger` uses too: a mapping made
through one is seen by the other, and a running server's runner starts it
within a second.

    POST   /2015-03-31/event-source-mappings/            CreateEventSourceMapping (202)
    GET    /2015-03-31/event-source-mappings/            ListEventSourceMappings
    GET    /2015-03-31/event-source-mappings/UUID        GetEventSourceMapping
    PUT    /2015-03-31/event-source-mappings/UUID        UpdateEventSourceMapping (202)
    DELETE /2015-03-31/event-source-mappings/UUID        DeleteEventSourceMapping (202)
    PUT    /2019-09-25/functions/NAME/event-invoke-config       PutFunctionEventInvokeConfig
    POST   /2019-09-25/functions/NAME/event-invoke-config       UpdateFunctionEventInvokeConfig
    GET    /2019-09-25/functions/NAME/event-invoke-config       GetFunctionEventInvokeConfig
    DELETE /2019-09-25/functions/NAME/event-invoke-config       DeleteFunctionEventInvokeConfig
    GET    /2019-09-25/functions/NAME/event-invoke-config/list  ListFunctionEventInvokeConfigs

A mapping's fields are pycontain.triggers.mapping's (Lambda's names; the
source's address in EventSourceArn); Lambda's fields for other sources
(Kafka, streams: FilterCriteria, DestinationConfig...) are refused by name.
"""
from urllib.parse import parse_qs, unquote, urlsplit

from pycontain.errors import PycontainError
from pycontain.fn.registry import functions
from pycontain.fn.server.lambda_body import parse_body
from pycontain.triggers import invoke_config, store
from pycontain.triggers.mapping import invalid

MAPPINGS = "/2015-03-31/event-source-mappings"
INVOKE_CONFIG = "/2019-09-25/functions/"
PAGE, MAX_ITEMS = 100, 10000  # ListEventSourceMappings' default and largest page


def _no_host_files(body: dict) -> dict:
    """Over HTTP no request names a file or directory of the server's host: the
    server runs as root, and any client that reaches it (any local user, on
    loopback) would read root's files through a BASIC_AUTH secret file or write
    them through a directory destination. Root's own command line (`pycontain
    fn trigger`) sets those."""
    for item in body.get("SourceAccessConfigurations") or ():
        if isinstance(item, dict) and item.get("Type") == "BASIC_AUTH":
            raise invalid("a BASIC_AUTH secret file cannot be named over the API: give the "
                          "credentials in EventSourceArn (amqp://USER:PASS@HOST:PORT), or "
                          "use `pycontain fn trigger create`")
    destinations = body.get("DestinationConfig")
    for value in (destinations.values() if isinstance(destinations, dict) else ()):
        target = value.get("Destination") if isinstance(value, dict) else None
        if isinstance(target, str) and "dir" in invoke_config.destination(target):
            raise invalid("a directory destination cannot be set over the API: use "
                          "`pycontain fn trigger invoke-config NAME --on-failure DIR`")
    return body


def _max_items(query: dict, default: int, high: int) -> int:
    text = query.get("MaxItems", str(default))
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= high):
        raise functions.validation_error(text[:16], "maxItems", "Member must have value "
                                         f"between 1 and {high}")
    return int(text)


class EventsApi:
    """route() answers (status, JSON answer or None), or None for a path that
    is not one of the above."""

    @staticmethod
    def _operation(method: str, path: str) -> tuple:
        """(operation, UUID or function name or None); (None, None) if none."""
        if path.rstrip("/") == MAPPINGS:
            return {"GET": "ListEventSourceMappings",
                    "POST": "CreateEventSourceMapping"}.get(method), None
        if path.startswith(MAPPINGS + "/") and "/" not in path[len(MAPPINGS) + 1:]:
            return {"GET": "GetEventSourceMapping", "PUT": "UpdateEventSourceMapping",
                    "DELETE": "DeleteEventSourceMapping"}.get(method), path[len(MAPPINGS) + 1:]
        if not path.startswith(INVOKE_CONFIG):
            return None, None
        name, _, rest = path[len(INVOKE_CONFIG):].partition("/")
        if rest == "event-invoke-config/list" and method == "GET":
            return "ListFunctionEventInvokeConfigs", unquote(name)
        if rest != "event-invoke-config":
            return None, None
        return {"PUT": "PutFunctionEventInvokeConfig", "POST": "UpdateFunctionEventInvokeConfig",
                "GET": "GetFunctionEventInvokeConfig",
                "DELETE": "DeleteFunctionEventInvokeConfig"}.get(method), unquote(name)

    def route(self, request):
        split = urlsplit(request.target)
        operation, argument = self._operation(request.method, split.path)
        if operation is None:
            return None
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        if split.path.startswith(INVOKE_CONFIG):
            argument = functions.parse_function_name(argument, query.get("Qualifier"))
        body = parse_body(request.body) if request.method in ("POST", "PUT") else {}
        return getattr(self, "_" + operation)(argument, body, query)

    # -- event source mappings ---------------------------------------------------------
    @staticmethod
    def _function(body: dict) -> dict:
        """body with FunctionName as a plain name (it may be an ARN or NAME:$LATEST)."""
        _no_host_files(body)
        if body.get("FunctionName") is not None:
            body = {**body, "FunctionName": functions.parse_function_name(body["FunctionName"])}
        return body

    def _CreateEventSourceMapping(self, _uuid, body, _query):  # noqa: N802 - Lambda's names
        if body.get("FunctionName") is None:
            raise functions.validation_error(None, "functionName", "Member must not be null")
        return 202, store.create(self._function(body))

    def _ListEventSourceMappings(self, _uuid, _body, query):  # noqa: N802
        limit = _max_items(query, PAGE, MAX_ITEMS)
        name = query.get("FunctionName")
        found = store.list_all(name and functions.parse_function_name(name),
                               query.get("EventSourceArn"))
        marker = query.get("Marker", "")
        found = [m for m in found if m["UUID"] > marker]  # sorted by UUID
        answer = {"EventSourceMappings": found[:limit]}
        if len(found) > limit:
            answer["NextMarker"] = found[limit - 1]["UUID"]
        return 200, answer

    def _GetEventSourceMapping(self, uuid, _body, _query):  # noqa: N802
        return 200, store.get(uuid)

    def _UpdateEventSourceMapping(self, uuid, body, _query):  # noqa: N802
        return 202, store.update(uuid, self._function(body))

    def _DeleteEventSourceMapping(self, uuid, _body, _query):  # noqa: N802
        return 202, store.delete(uuid)

    # -- asynchronous invocation settings ----------------------------------------------
    def _PutFunctionEventInvokeConfig(self, name, body, _query):  # noqa: N802
        return 200, invoke_config.put({**_no_host_files(body), "FunctionName": name})

    def _UpdateFunctionEventInvokeConfig(self, name, body, _query):  # noqa: N802
        return 200, invoke_config.update({**_no_host_files(body), "FunctionName": name})

    def _GetFunctionEventInvokeConfig(self, name, _body, _query):  # noqa: N802
        functions.get(name)  # the function first, as Lambda
        return 200, invoke_config.shown(invoke_config.get(name, missing_ok=False))

    def _DeleteFunctionEventInvokeConfig(self, name, _body, _query):  # noqa: N802
        functions.get(name)
        invoke_config.delete(name)
        return 204, None

    def _ListFunctionEventInvokeConfigs(self, name, _body, query):  # noqa: N802
        _max_items(query, 50, 50)
        functions.get(name)
        try:
            return 200, {"FunctionEventInvokeConfigs": [
                invoke_config.shown(invoke_config.get(name, missing_ok=False))]}
        except PycontainError:  # none stored
            return 200, {"FunctionEventInvokeConfigs": []}
