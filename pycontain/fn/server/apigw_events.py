"""API Gateway's Lambda proxy contract: an HTTP request as the event a route's
function gets (payload format 2.0, the HTTP API's, or 1.0, the REST API's),
and the function's result as the HTTP response.

A body is passed as text when it is UTF-8 and its Content-Type is textual
(text/*, JSON, XML, form data, JavaScript, or none), else base64 with
isBase64Encoded. A result API Gateway would refuse (a 1.0 result that is not
an object, a statusCode outside 200-599 (a 1xx is never a final answer), a
header that is not a string or number on one line of latin-1 text, a body
that is not a string, bad base64) is a 502, as is a function error or a
timeout.
"""
import base64
import binascii
import json
import re
import time
from urllib.parse import parse_qsl, urlsplit

from pycontain.fn.registry.functions import ACCOUNT

API_ID = "pycontain"
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
              "application/x-www-form-urlencoded")
TEXT_SUFFIXES = ("+json", "+xml")
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # a header name (RFC 9110)
FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*\Z")  # latin-1, no control characters
FRAMING = frozenset(("content-length", "transfer-encoding", "connection"))  # the server's own


class BadResult(Exception):
    """The function's result cannot be turned into a response."""


def _is_text(content_type: str, body: bytes) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind and not (kind.startswith(TEXT_TYPES) or kind.endswith(TEXT_SUFFIXES)):
        return False
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


def _body(request) -> tuple:
    """(body as the event has it or None, isBase64Encoded)."""
    if not request.body:
        return None, False
    if _is_text(request.headers.get("content-type", ""), request.body):
        return request.body.decode(), False
    return base64.b64encode(request.body).decode(), True


def _multi(pairs) -> dict:
    out = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def _times(now: float) -> tuple:
    """(API Gateway's request time text, epoch milliseconds)."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), int(now * 1000)


def event_v2(request, route_key: str, params: dict, request_id: str, now: float) -> dict:
    split = urlsplit(request.target)
    path = split.path or "/"
    headers = {}
    cookies = []
    for name, value in request.fields:
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        else:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    when, epoch = _times(now)
    event = {"version": "2.0", "routeKey": route_key, "rawPath": path,
             "rawQueryString": split.query}
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = {k: ",".join(v) for k, v in
             _multi(parse_qsl(split.query, keep_blank_values=True)).items()}
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT, "apiId": API_ID, "domainName": headers.get("host", ""),
        "domainPrefix": headers.get("host", "").split(".", 1)[0],
        "http": {"method": request.method, "path": path,
                 "protocol": f"HTTP/{request.version}", "sourceIp": request.peer,
                 "userAgent": headers.get("user-agent", "")},
        "requestId": request_id, "routeKey": route_key, "stage": "$default",
        "time": when, "timeEpoch": epoch}
    body, encoded = _body(request)
    if body is not None:
        event["body"] = body
    if params:
        event["pathParameters"] = params
    event["isBase64Encoded"] = encoded
    return event


def event_v1(request, resource: str, params: dict, request_id: str, now: float) -> dict:
    split = urlsplit(request.target)
    path = split.path or "/"
    headers = _multi(request.fields)
    query = _multi(parse_qsl(split.query, keep_blank_values=True))
    when, epoch = _times(now)
    body, encoded = _body(request)
    user_agent = headers.get("user-agent", [""])[-1]
    return {
        "version": "1.0", "resource": resource, "path": path, "httpMethod": request.method,
        "headers": {k: v[-1] for k, v in headers.items()} or None,
        "multiValueHeaders": headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": API_ID, "domainName": request.headers.get("host", ""),
            "extendedRequestId": request_id, "httpMethod": request.method,
            "identity": {"sourceIp": request.peer, "userAgent": user_agent},
            "path": path, "protocol": f"HTTP/{request.version}", "requestId": request_id,
            "requestTime": when, "requestTimeEpoch": epoch, "resourceId": resource,
            "resourcePath": resource, "stage": "$default"},
        "pathParameters": params or None, "stageVariables": None,
        "body": body, "isBase64Encoded": encoded}


# -- results --------------------------------------------------------------------------
def _text(value, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        text = str(value).strip(" \t")
        if FIELD_VALUE.match(text):
            return text
    raise BadResult(f"{what} must be a string or a number: one line of latin-1 text")


def _header_pairs(result: dict, multi: bool) -> list:
    single = result.get("headers") or {}
    many = (result.get("multiValueHeaders") or {}) if multi else {}
    if not isinstance(single, dict) or not isinstance(many, dict):
        raise BadResult("headers must be an object")
    pairs, seen = [], set()
    for name, values in many.items():
        if not isinstance(values, list):
            raise BadResult("multiValueHeaders' values must be lists")
        pairs += [(name, _text(v, f"header {name[:40]}")) for v in values]
        seen.add(name.lower())
    pairs += [(name, _text(v, f"header {name[:40]}")) for name, v in single.items()
              if name.lower() not in seen]
    for name, _ in pairs:
        if not TOKEN.match(name):
            raise BadResult(f"invalid header name {name[:40]!r}")
    return [(n, v) for n, v in pairs if n.lower() not in FRAMING]


def _status(value) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 200 <= value <= 599:
        raise BadResult("statusCode must be an integer from 200 to 599")
    return value


def _result_body(result: dict) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise BadResult("body must be a string")
    if result.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadResult("body is not base64") from None
    return body.encode()


def response_parts(payload: bytes, payload_format: str) -> tuple:
    """(status, headers, body) of a function's result JSON; BadResult if the
    gateway cannot use it. Format 2.0 infers a response (200, JSON, the result
    as body) when the result is not an object with a statusCode."""
    try:
        result = json.loads(payload)
    except ValueError:
        raise BadResult("the result is not JSON") from None
    v2 = payload_format == "2.0"
    if v2 and not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return 200, [("content-type", "application/json")], body.encode()
    if not isinstance(result, dict):
        raise BadResult("the result is not an object")
    headers = _header_pairs(result, multi=not v2)
    if v2:
        cookies = result.get("cookies") or []
        if not isinstance(cookies, list):
            raise BadResult("cookies must be a list")
        headers += [("set-cookie", _text(c, "a cookie")) for c in cookies]
    return _status(result.get("statusCode")), headers, _result_body(result)
