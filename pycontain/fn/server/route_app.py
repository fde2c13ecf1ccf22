"""fn serve's front door: Lambda's APIs (fn.server.gateway, fn.server.lambda_api) at their
paths, every other path through the route table (fn.server.routes) to a function,
with API Gateway's event and response shapes (fn.server.apigw_events).

Lambda's paths are /status and those under /YYYY-MM-DD/ (its API versions),
and pycontain's own under /pycontain/ (the S3 webhook);
a route cannot take them. With keys (fn serve --api-key-file), Lambda's APIs
need an API key in an x-api-key header or a request signed (SigV4) with one
of the file's AWS credentials, as the AWS CLI and boto3 sign; routes created
with --api-key need an API key; a missing or wrong one gets 403. Each route request
is one call through the pool: a fresh jail, its log in the function's stream.

Answers the gateway gives itself, API Gateway's: no route 404 {"message":
"Not Found"}; the function failed, timed out, or returned what cannot be a
response 502 {"message": "Internal Server Error"}; no concurrency slot within
the queue timeout 429 {"message": "Too Many Requests"}; the route's function
is gone 500; an event over 6 MB 413.
"""
import hmac
import re
from http import HTTPStatus
import time
import traceback
from urllib.parse import urlsplit

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.fn.server import apigw_events, routes, sigv4
from pycontain.fn.server import gateway
from pycontain.fn.server.gateway import error_response
from pycontain.fn.server.httpd import Response
from pycontain.fn.outcome import EXIT_BAD_REQUEST, MAX_EVENT, new_request_id

LAMBDA_PATH = re.compile(r"/(status/?\Z|pycontain/|\d{4}-\d\d-\d\d(/|\Z))")
MAX_KEYS, MAX_KEY_LENGTH = 1000, 1024
ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9]{16,128}\Z")
MESSAGES = {403: "Forbidden", 404: "Not Found", 413: "Request Entity Too Large",
            429: "Too Many Requests", 500: "Internal Server Error",
            502: "Internal Server Error"}


class Keys:
    """What opens Lambda's APIs on a keyed server: API keys (an x-api-key
    header) and AWS credentials (a SigV4-signed request, see fn.server.sigv4)."""

    def __init__(self, api_keys=(), credentials=None):
        self.api_keys, self.credentials = list(api_keys), dict(credentials or {})

    def __bool__(self) -> bool:
        return bool(self.api_keys or self.credentials)

    def api_key_ok(self, request) -> bool:
        given = request.headers.get("x-api-key", "").encode("latin-1")
        found = False
        for key in self.api_keys:  # every key compared: the time says nothing of which matched
            found |= hmac.compare_digest(given, key)
        return found

    def refusal(self, request):
        """None if request may use Lambda's APIs, else the error Response."""
        if self.api_key_ok(request):
            return None
        if self.credentials and sigv4.is_signed(request):
            try:
                sigv4.verify(request, self.credentials)
                return None
            except sigv4.Refused as exc:
                return error_response(exc.error_type, str(exc), new_request_id(), 403)
        return error_response("UnrecognizedClientException", "The API key in the request's "
                              "x-api-key header is missing or not valid"
                              f"{', nor is it signed (SigV4)' if self.credentials else ''}.",
                              new_request_id(), 403)


def read_keys(path: str) -> Keys:
    """The keys in a file, one a line (blank lines and # comments skipped): an
    API key, or `ACCESS_KEY_ID SECRET_ACCESS_KEY` (AWS credentials)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEYS * (MAX_KEY_LENGTH + 2))
    except OSError as exc:
        raise PycontainError(f"cannot read --api-key-file {path}: {exc.strerror}") from None
    keys = Keys()
    for line in data.decode(errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) == 2 and ACCESS_KEY_ID.match(fields[0]) and len(fields[1]) >= 16:
            keys.credentials[fields[0]] = fields[1]
        elif len(fields) == 1 and 16 <= len(line) <= MAX_KEY_LENGTH and line.isprintable():
            keys.api_keys.append(line.encode())
        else:
            raise PycontainError(f"--api-key-file {path}: a line is an API key (16 to "
                                 f"{MAX_KEY_LENGTH} printable characters, no spaces) or "
                                 "ACCESS_KEY_ID SECRET_ACCESS_KEY")
    if not keys:
        raise PycontainError(f"--api-key-file {path} holds no key")
    return keys


def message(status: int, request_id: str) -> Response:
    body = jsonio.dumps({"message": MESSAGES.get(status) or HTTPStatus(status).phrase},
                        indent=None).encode()
    return Response(status, [("Content-Type", "application/json"),
                             ("apigw-requestid", request_id)], body, request_id)


def server_error(status: int, text: str, target: str) -> Response:
    """The answer to a request the server refused itself (fn.server.httpd): in
    Lambda's shape at Lambda's paths and before the target is known, in API
    Gateway's on a route's path."""
    if not target or LAMBDA_PATH.match(urlsplit(target).path or "/"):
        return gateway.server_error(status, text)
    return message(status, new_request_id())


class RouteApp:
    """lambda_app: fn.server.gateway.InvokeApi; keys: accepted API keys (bytes) or ()."""

    def __init__(self, lambda_app, log, keys=()):
        self.lambda_app, self.log = lambda_app, log
        self.keys = keys if isinstance(keys, Keys) else Keys(keys)
        self.table = routes.Watched()

    def __call__(self, request) -> Response:
        path = urlsplit(request.target).path or "/"
        if LAMBDA_PATH.match(path):
            refused = self.keys and self.keys.refusal(request)
            return refused or self.lambda_app(request)
        request_id = new_request_id()
        route, params = self.table.current().match(request.method, path)
        if route is None:
            return message(404, request_id)
        if route["ApiKeyRequired"] and not self.keys.api_key_ok(request):
            return message(403, request_id)
        try:
            return self._call(route, params, request, request_id)
        except PycontainError as exc:
            if str(exc).startswith("TooManyRequestsException"):
                return message(429, request_id)
            self.log(f"pycontain fn serve: route {route['RouteKey']}: {exc}\n")
            return message(500, request_id)
        except Exception:  # noqa: BLE001 - a bug: answer 500, keep serving
            self.log(f"pycontain fn serve: route {route['RouteKey']} failed:\n"
                     f"{traceback.format_exc()}")
            return message(500, request_id)

    def _call(self, route: dict, params: dict, request, request_id: str) -> Response:
        key, v2 = route["RouteKey"], route["PayloadFormatVersion"] == "2.0"
        now = time.time()
        if v2:
            event = apigw_events.event_v2(request, key, params, request_id, now)
        else:
            resource = key.partition(" ")[2] if key != routes.DEFAULT else "/{proxy+}"
            event = apigw_events.event_v1(request, resource, params, request_id, now)
        data = jsonio.dumps(event, indent=None).encode()
        if len(data) > MAX_EVENT:
            return message(413, request_id)
        out = self.lambda_app.call(route["Function"], data, request_id)
        self.lambda_app.report(out)
        if out.exit_code == EXIT_BAD_REQUEST:
            return message(413, request_id)
        if out.function_error:
            return message(502, request_id)
        try:
            status, headers, body = apigw_events.response_parts(
                out.payload, route["PayloadFormatVersion"])
        except apigw_events.BadResult as exc:
            self.log(f"pycontain fn serve: route {key}: {route['Function']}'s result is not "
                     f"a response: {exc}\n")
            return message(502, request_id)
        return Response(status, headers + [("apigw-requestid", request_id)], body, request_id)
