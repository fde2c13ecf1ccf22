"""The Lambda Invoke API over HTTP/1.1 (what boto3 and the AWS CLI call).

    POST /2015-03-31/functions/{name}/invocations   Invoke
    GET  /status                                    the pool's status JSON

X-Amz-Invocation-Type RequestResponse (200), Event (202: run in the
background), DryRun (204: only checks the function exists);
X-Amz-Log-Type: Tail returns the last 4 KB of the log in X-Amz-Log-Result.
Errors are Lambda's: an x-amzn-ErrorType header and {"Type", "message"}.
Request signatures are not checked: the server binds loopback only.
"""
import base64
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.fn.outcome import EXIT_BAD_REQUEST, MAX_EVENT, new_request_id
from pycontain.image import transport

PREFIX, SUFFIX = "/2015-03-31/functions/", "/invocations"
DISCARD_LIMIT = 64 * 1024 * 1024  # an oversized body is read and dropped up to this size
STATUS = {"ResourceNotFoundException": 404, "InvalidParameterValueException": 400,
          "InvalidRequestContentException": 400, "RequestTooLargeException": 413,
          "TooManyRequestsException": 429, "UnknownOperationException": 404,
          "ServiceException": 500}


class ApiError(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def function_name(path: str) -> str:
    """{name} of an Invoke path: a name, name:qualifier, or a function ARN."""
    name = unquote(path[len(PREFIX):-len(SUFFIX)])
    if name.startswith("arn:"):
        name = name.split(":function:", 1)[-1]
    name, _, qualifier = name.partition(":")
    if qualifier not in ("", "$LATEST"):
        raise ApiError("ResourceNotFoundException", f"Function not found: {name}:{qualifier} "
                       "(only $LATEST exists)")
    return name


def is_loopback(host: str) -> bool:
    return transport.is_loopback(f"[{host}]" if ":" in host else host)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pycontain"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def _reply(self, code: int, body: bytes = b"", headers=()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", self.request_id)
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _error(self, error_type: str, message: str) -> None:
        body = jsonio.dumps({"Type": "User" if error_type != "ServiceException" else "Service",
                             "message": message}, indent=None).encode()
        self._reply(STATUS.get(error_type, 500), body, [("x-amzn-ErrorType", error_type)])

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_EVENT:
            if length > DISCARD_LIMIT:
                self.close_connection = True
            else:
                while length > 0:
                    chunk = self.rfile.read(min(length, 1 << 20))
                    if not chunk:
                        break
                    length -= len(chunk)
            raise ApiError("RequestTooLargeException", "Request must be smaller than "
                           f"{MAX_EVENT} bytes for the InvokeFunction operation")
        return self.rfile.read(length) if length else b""

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.request_id, self.started = new_request_id(), time.monotonic()
        if urlsplit(self.path).path.rstrip("/") in ("/status", "/2015-03-31/status"):
            self._reply(200, jsonio.dumps(self.server.pool.status()).encode())
        else:
            self._error("UnknownOperationException", f"no operation at GET {self.path}")

    def do_POST(self):  # noqa: N802
        self.request_id, self.started = new_request_id(), time.monotonic()
        with self.server.active:
            self._post()

    def _post(self) -> None:
        try:
            self._invoke()
        except ApiError as exc:
            self._error(exc.error_type, str(exc))
        except PycontainError as exc:
            kind, sep, message = str(exc).partition(": ")
            self._error(kind, message) if sep and kind in STATUS else \
                self._error("ServiceException", str(exc))
        except OSError as exc:  # the engine failed, not the caller: Lambda's 500
            self._error("ServiceException", f"pycontain could not run the function: {exc}")
        except Exception as exc:  # noqa: BLE001 - a bug: answer 500, never drop the connection
            self.server.log(f"pycontain fn serve: request {self.request_id} failed:\n"
                            f"{traceback.format_exc()}")
            self._error("ServiceException", f"pycontain failed to run the function: {exc!r}")

    def _invoke(self) -> None:
        path = urlsplit(self.path).path
        if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            self._body()
            raise ApiError("UnknownOperationException", f"no operation at POST {path}")
        event = self._body()
        name = function_name(path)
        pool = self.server.pool
        pool.lookup(name)
        kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if kind == "DryRun":
            return self._reply(204)
        if kind == "Event":
            self.server.background(name, event, self.request_id)
            return self._reply(202)
        if kind != "RequestResponse":
            raise ApiError("InvalidParameterValueException", f"invalid invocation type {kind}")
        out = pool.invoke(name, event or b"{}", self.request_id)
        self.server.report(out)
        if out.exit_code == EXIT_BAD_REQUEST:
            message = jsonio.loads(out.payload).get("errorMessage", "")
            raise ApiError("InvalidRequestContentException", message)
        headers = [("X-Amz-Executed-Version", "$LATEST")]
        if out.function_error:
            headers.append(("X-Amz-Function-Error", out.function_error))
        if (self.headers.get("X-Amz-Log-Type") or "None") == "Tail":
            headers.append(("X-Amz-Log-Result", base64.b64encode(out.log).decode()))
        self._reply(200, out.payload, headers)

    def log_request(self, code="-", size="-"):
        """The access log: one line per request."""
        took = (time.monotonic() - getattr(self, "started", time.monotonic())) * 1000
        self.server.log(f'{self.client_address[0]} - [{self.log_date_time_string()}] '
                        f'"{self.requestline}" {code} {getattr(self, "request_id", "-")} '
                        f'{took:.2f}ms\n')

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        self.server.log(f"{self.client_address[0]} - {format % args}\n")


class _Counter:
    """Requests being answered (a context manager), so shutdown can wait for them."""

    def __init__(self):
        self.value, self._cond = 0, threading.Condition()

    def __enter__(self):
        with self._cond:
            self.value += 1

    def __exit__(self, *exc):
        with self._cond:
            self.value -= 1
            self._cond.notify_all()

    def wait_zero(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.value == 0, timeout)


class Gateway(ThreadingHTTPServer):
    """The HTTP server; pool runs the calls."""
    daemon_threads = True
    request_queue_size = 1024  # socketserver's 5 resets a burst of concurrent callers

    def __init__(self, address: tuple, pool, log=sys.stderr):
        if not is_loopback(address[0]):
            raise PycontainError(f"fn serve binds loopback addresses only, not {address[0]}: "
                                 "the Invoke API does not check request signatures (put an "
                                 "authenticating proxy in front to serve other hosts)")
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.pool, self._log, self._log_lock = pool, log, threading.Lock()
        self.tasks = set()
        self.active = _Counter()

    def log(self, line: str) -> None:
        with self._log_lock:
            self._log.write(line)
            self._log.flush()

    def report(self, out) -> None:
        """The call's REPORT line, as Lambda writes it to CloudWatch."""
        lines = out.log.decode(errors="replace").splitlines()
        self.log(next((ln for ln in lines if ln.startswith("REPORT ")), "") + "\n")

    def background(self, name: str, event: bytes, request_id: str) -> None:
        """An Event invocation: run it after answering 202."""
        def run():
            try:
                self.report(self.pool.invoke(name, event or b"{}", request_id))
            except PycontainError as exc:
                self.log(f"Event {request_id} for {name} failed: {exc}\n")
            except Exception:  # noqa: BLE001 - a bug: say so in the log
                self.log(f"Event {request_id} for {name} failed:\n{traceback.format_exc()}")
            finally:
                self.tasks.discard(thread)
        thread = threading.Thread(target=run, name=f"event-{request_id}", daemon=True)
        self.tasks.add(thread)
        thread.start()

    def verify_request(self, request, client_address) -> bool:
        return is_loopback(client_address[0])
