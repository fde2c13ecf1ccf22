"""The Lambda Invoke API (what boto3 and the AWS CLI call), an app for
httpd.HttpServer; Lambda's function API (fn.server.lambda_api) is the control's.

    POST /2015-03-31/functions/{name}/invocations   Invoke
    GET  /status                                    the pool's status JSON

X-Amz-Invocation-Type RequestResponse (200), Event (202: run in the
background, at most MAX_EVENTS at once), DryRun (204: only checks the
function exists); X-Amz-Log-Type: Tail returns the last 4 KB of the log in
X-Amz-Log-Result. Every call's log goes to its function's log stream
(fn.registry.fnlogs), Event invocations' too. Errors are Lambda's: an
x-amzn-ErrorType header and {"Type", "message"}. Request signatures are not
checked: the server binds loopback only.
"""
import base64
import threading
import time
import traceback
from urllib.parse import parse_qs, unquote, urlsplit

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.fn.registry import functions
from pycontain.fn.server.httpd import Response
from pycontain.fn.outcome import EXIT_BAD_REQUEST, MAX_EVENT, new_request_id

PREFIX, SUFFIX = "/2015-03-31/functions/", "/invocations"
MAX_EVENTS = 256  # Event invocations accepted and not finished; past that 429
STATUS = {"ResourceNotFoundException": 404, "InvalidParameterValueException": 400,
          "InvalidRequestContentException": 400, "RequestTooLargeException": 413,
          "TooManyRequestsException": 429, "UnknownOperationException": 404,
          "ServiceException": 500, "ResourceConflictException": 409,
          "ValidationException": 400, "PreconditionFailedException": 412,
          "RequestEntityTooLargeException": 413}
SERVER_ERRORS = {400: "InvalidRequestContentException", 408: "RequestTimeoutException",
                 413: "RequestTooLargeException", 429: "TooManyRequestsException",
                 431: "InvalidRequestContentException", 501: "InvalidRequestContentException"}
TOO_LARGE = f"Request must be smaller than {MAX_EVENT} bytes for the InvokeFunction operation"


class ApiError(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def function_name(target: str) -> str:
    """{name} of an Invoke request: a name, name:qualifier, or a function ARN
    (and ?Qualifier=)."""
    split = urlsplit(target)
    qualifier = parse_qs(split.query).get("Qualifier", [None])[-1]
    return functions.parse_function_name(unquote(split.path[len(PREFIX):-len(SUFFIX)]),
                                         qualifier)


def event_body(body: bytes) -> bytes:
    """An Invoke request's event (b"{}" for none), JSON or Lambda's 400: one rule
    for calls made now and for Event invocations queued for later."""
    body = body or b"{}"
    try:
        jsonio.parse(body, "the request body")
    except PycontainError as exc:
        raise ApiError("InvalidRequestContentException",
                       f"Could not parse request body into json: {str(exc)[:200]}") from None
    return body


def error_response(error_type: str, message: str, request_id: str, status: int = 0) -> Response:
    body = jsonio.dumps({"Type": "User" if error_type != "ServiceException" else "Service",
                         "message": message}, indent=None).encode()
    return Response(status or STATUS.get(error_type, 500),
                    [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
                     ("x-amzn-ErrorType", error_type)], body, request_id)


def server_error(status: int, message: str) -> Response:
    """The answer to a request the server refused itself (see httpd)."""
    return error_response(SERVER_ERRORS.get(status, "ServiceException"),
                          TOO_LARGE if status == 413 else message, new_request_id(), status)


class InvokeApi:
    """One request in, one Response out; pool runs the calls."""

    def __init__(self, pool, log, control=None, streams=None):
        """control: fn.server.lambda_api.ControlApi; streams: fn.registry.fnlogs.Streams."""
        self.pool, self.log, self.control, self.streams = pool, log, control, streams
        self.tasks = set()  # Event invocations running in the background
        self._events = threading.BoundedSemaphore(MAX_EVENTS)
        self.triggers = None  # triggers.runner.Runner: mappings, the durable async queue

    def __call__(self, request) -> Response:
        request_id = new_request_id()
        try:
            return self._route(request, request_id)
        except ApiError as exc:
            return error_response(exc.error_type, str(exc), request_id)
        except PycontainError as exc:
            kind, sep, message = str(exc).partition(": ")
            if sep and kind in STATUS:
                return error_response(kind, message, request_id)
            return error_response("ServiceException", str(exc), request_id)
        except OSError as exc:  # the engine failed, not the caller: Lambda's 500
            return error_response("ServiceException",
                                  f"pycontain could not run the function: {exc}", request_id)
        except Exception as exc:  # noqa: BLE001 - a bug: answer 500, keep serving
            self.log(f"pycontain fn serve: request {request_id} failed:\n"
                     f"{traceback.format_exc()}")
            return error_response("ServiceException",
                                  f"pycontain failed to run the function: {exc!r}", request_id)

    def _reply(self, request_id: str, status: int, body: bytes = b"", headers=()) -> Response:
        return Response(status, [("Content-Type", "application/json"),
                                 ("x-amzn-RequestId", request_id), *headers], body, request_id)

    def _route(self, request, request_id: str) -> Response:
        path = urlsplit(request.target).path
        if request.method == "GET" and path.rstrip("/") in ("/status", "/2015-03-31/status"):
            status = self.pool.status()
            if self.triggers is not None:
                status["triggers"] = self.triggers.status()
            return self._reply(request_id, 200, jsonio.dumps(status).encode())
        if request.method == "POST" and path == "/pycontain/s3-events" and self.triggers:
            from pycontain.triggers import s3events  # MinIO's, Ceph RGW's webhook
            return self._reply(request_id, 200, jsonio.dumps(
                {"Queued": s3events.receive(self.triggers, request.body)}).encode())
        if request.method != "POST" or not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            answer = self.control and self.control.route(request, request_id)
            if not answer:
                raise ApiError("UnknownOperationException",
                               f"no operation at {request.method} {path[:200]}")
            return self._reply(request_id, *answer)
        name = function_name(request.target)
        self.pool.lookup(name)
        kind = request.headers.get("x-amz-invocation-type") or "RequestResponse"
        if kind == "DryRun":
            return self._reply(request_id, 204)
        if kind not in ("Event", "RequestResponse"):
            raise ApiError("InvalidParameterValueException", f"invalid invocation type {kind}")
        event = event_body(request.body)
        if kind == "Event" and self.triggers is not None:  # durable: survives a restart
            self.triggers.events.accept(name, event, request_id)
            return self._reply(request_id, 202)
        if kind == "Event":
            self.background(name, event, request_id)
            return self._reply(request_id, 202)
        out = self.call(name, event, request_id)
        self.report(out)
        if out.exit_code == EXIT_BAD_REQUEST:
            message = jsonio.loads(out.payload).get("errorMessage", "")
            raise ApiError("InvalidRequestContentException", message)
        headers = [("X-Amz-Executed-Version", "$LATEST")]
        if out.function_error:
            headers.append(("X-Amz-Function-Error", out.function_error))
        if (request.headers.get("x-amz-log-type") or "None") == "Tail":
            headers.append(("X-Amz-Log-Result", base64.b64encode(out.log).decode()))
        return self._reply(request_id, 200, out.payload, headers)

    def call(self, name: str, event: bytes, request_id: str):
        """One call through the pool, its log appended to the function's stream."""
        if self.streams is None:
            return self.pool.invoke(name, event, request_id)
        started, written = time.time(), []

        def stream(log: bytes) -> None:
            written.append(self.streams.append(name, log, started))
        out = self.pool.invoke(name, event, request_id, stream=stream)
        if not written:  # no call ran (the handler's module failed to load)
            self.streams.append(name, self.streams.failed_start(out), started)
        return out

    def report(self, out) -> None:
        """The call's REPORT line, as Lambda writes it to CloudWatch."""
        lines = out.log.decode(errors="replace").splitlines()
        self.log(next((ln for ln in lines if ln.startswith("REPORT ")), "") + "\n")

    def background(self, name: str, event: bytes, request_id: str) -> None:
        """An Event invocation: run it after answering 202."""
        if not self._events.acquire(blocking=False):
            raise ApiError("TooManyRequestsException", "Rate Exceeded. (all "
                           f"{MAX_EVENTS} Event invocations in progress)")

        def run():
            try:
                self.report(self.call(name, event or b"{}", request_id))
            except PycontainError as exc:
                self.log(f"Event {request_id} for {name} failed: {exc}\n")
            except Exception:  # noqa: BLE001 - a bug: say so in the log
                self.log(f"Event {request_id} for {name} failed:\n{traceback.format_exc()}")
            finally:
                self.tasks.discard(thread)
                self._events.release()
        thread = threading.Thread(target=run, name=f"event-{request_id}", daemon=True)
        self.tasks.add(thread)
        thread.start()
