"""The Lambda handler contract, run by the image's python inside a jail.

Standalone (standard library only): the jail sees this one file (and its
bytecode), read-only, at /var/runtime/runner.py, and imports it with
`python3 -I -S` (see jail.BOOT).

    fd 0   the event (JSON bytes)
    fd 1   the result channel: taken over at start, then pointed at fd 2, so
           whatever the handler prints goes to the log stream, never the result
    fd 2   the log stream
    env    Lambda's variables (_HANDLER, AWS_LAMBDA_*, LAMBDA_TASK_ROOT ...) and
           _PYCONTAIN_REQUEST_ID / _PYCONTAIN_DEADLINE_MS, removed before the
           handler runs; with _PYCONTAIN_GO_FD (a jail built ahead of its call),
           those and AWS_LAMBDA_LOG_STREAM_NAME come through that descriptor
           once the engine says go (await_go)

Exit status: 0 result written, 1 function error (error JSON written),
2 the event was not JSON. The module is importable too: a zygote can call
load_handler() once and invoke() per call. `json` is not imported on the
success path (~3 ms with `re`); the C scanner and encoder of `_json` suffice.
"""
import os
import sys

import _json

TASK_ROOT = "/var/task"
MAX_RESPONSE = 6 * 1024 * 1024
OK, FUNCTION_ERROR, BAD_EVENT = 0, 1, 2
SITE_DIRS = ("/opt/python", "/usr/local/lib/python3.{}/site-packages",
             "/usr/lib/python3/dist-packages")


class Fault(Exception):
    """An error the runtime reports in Lambda's shape."""

    def __init__(self, error_type: str, message: str, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.trace = trace or []


# -- JSON without importing json ------------------------------------------------
class _Decoding:
    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int = float, int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"),
                      "-Infinity": float("-inf")}.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_Decoding())


def loads(data: bytes):
    """Parse a JSON document; ValueError (json's own message) if invalid."""
    text = data.decode("utf-8").strip(" \t\n\r")
    try:
        obj, end = _scan(text, 0)
        if end == len(text):
            return obj
    except (StopIteration, SystemError, ValueError):
        pass  # _json reports errors only once json.decoder is imported
    finally:
        _Decoding.memo.clear()
    import json
    return json.loads(text)


def _default(obj):
    if type(obj).__name__ == "Decimal":  # what boto3 returns for DynamoDB numbers
        return float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps(obj) -> str:
    """json.dumps(obj) with json's defaults (plus Decimal, as Lambda's runtime)."""
    encode = _json.make_encoder({}, _default, _json.encode_basestring_ascii, None,
                                ": ", ", ", False, False, True)
    return "".join(encode(obj, 0))


# -- the context object -----------------------------------------------------------
class LambdaContext:
    """What Lambda passes as the handler's second argument."""

    def __init__(self, request_id: str, deadline_ms: int, env=os.environ):
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        region = env.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = (f"arn:aws:lambda:{region}:000000000000:function:"
                                     f"{self.function_name}")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        import time
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self):
        return (f"LambdaContext([aws_request_id={self.aws_request_id},"
                f"function_name={self.function_name},"
                f"function_version={self.function_version}])")


# -- loading and calling the handler ---------------------------------------------------
def _stack(tb) -> list:
    import traceback
    frames = [f for f in traceback.extract_tb(tb) if f.filename != __file__]
    return traceback.format_list(frames)


def load_handler(name: str, task_root: str = TASK_ROOT):
    """Import module.function from task_root; raise Fault in Lambda's terms."""
    try:
        modname, fname = name.rsplit(".", 1)
    except ValueError as exc:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{name}': {exc}") from None
    modname = modname.replace("/", ".")
    if not modname or modname.startswith("."):
        raise Fault("Runtime.MalformedHandlerName",
                    f"Bad handler '{name}': Cannot use relative import") from None
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
        version = sys.version_info[1]
        sys.path += [d.format(version) for d in SITE_DIRS if os.path.isdir(d.format(version))]
    try:
        __import__(modname)
        module = sys.modules[modname]
    except (ImportError, PermissionError) as exc:  # unreadable code: what Lambda says too
        raise Fault("Runtime.ImportModuleError",
                    f"Unable to import module '{modname}': {exc}") from None
    except SyntaxError as exc:
        raise Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {exc}",
                    [f'  File "{exc.filename}" Line {exc.lineno}\n    {(exc.text or "").strip()}\n'])
    except Exception as exc:  # noqa: BLE001 - module-level code failed: Lambda reports it as is
        raise Fault(type(exc).__name__, str(exc), _stack(exc.__traceback__)) from None
    handler = getattr(module, fname, None)
    if handler is None:
        raise Fault("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")
    return handler


def error_json(error_type: str, message: str, request_id: str, trace=()) -> str:
    return dumps({"errorMessage": message, "errorType": error_type,
                  "requestId": request_id, "stackTrace": list(trace)})


def _fault_json(fault: Fault, request_id: str) -> str:
    return error_json(fault.error_type, str(fault), request_id, fault.trace)


def invoke(handler, event_bytes: bytes, context) -> tuple:
    """Call the handler once: (exit status, result or error JSON as str)."""
    rid = context.aws_request_id
    try:
        event = loads(event_bytes) if event_bytes.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # Recursion: nested deep
        return BAD_EVENT, error_json("Runtime.UnmarshalError",
                                     f"Unable to unmarshal input: {exc}", rid)
    try:
        result = handler(event, context)
    except MemoryError:
        return FUNCTION_ERROR, error_json(
            "Runtime.OutOfMemory", f"RequestId: {rid} Error: Runtime exceeded its memory "
            f"limit of {context.memory_limit_in_mb} MB (MemoryError)", rid)
    except Exception as exc:  # noqa: BLE001 - the handler's error is the function's result
        return FUNCTION_ERROR, error_json(type(exc).__name__, str(exc), rid,
                                          _stack(exc.__traceback__))
    try:
        text = dumps(result)
    except (TypeError, ValueError, RecursionError) as exc:
        return FUNCTION_ERROR, error_json("Runtime.MarshalError",
                                          f"Unable to marshal response: {exc}", rid)
    if len(text) > MAX_RESPONSE:
        return FUNCTION_ERROR, error_json(
            "Function.ResponseSizeTooLarge",
            f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).",
            rid)
    return OK, text


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def await_go() -> None:
    """In a jail built from a description (pycontain.fn.oneshot.describe): wait for the
    go-ahead (the engine's, or the launcher's when it runs the call), which
    brings the call's own variables. First of all, so that its descriptor is
    free again for what follows."""
    fd = os.environ.pop("_PYCONTAIN_GO_FD", None)
    if fd is None:
        return
    if os.environ.pop("_PYCONTAIN_HELPER", None):  # the end of the jail's set-up, in a child
        if os.waitpid(-1, 0)[1]:
            os.write(2, b"pycontain: the jail's set-up failed (the host's root, or lo)\n")
            os._exit(125)
    data = _read_all(int(fd))
    os.close(int(fd))
    if not data:
        os._exit(0)  # the engine made another jail (and kills this one)
    for entry in data.decode().split("\0"):
        name, _, value = entry.partition("=")
        os.environ[name] = value


def main() -> int:
    """One invocation, as the jail's first process."""
    await_go()
    result_fd = os.dup(1)  # not inherited by anything the handler execs
    os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)
    request_id = os.environ.pop("_PYCONTAIN_REQUEST_ID", "")
    deadline_ms = int(os.environ.pop("_PYCONTAIN_DEADLINE_MS", "0"))
    event = _read_all(0)
    context = LambdaContext(request_id, deadline_ms)
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""),
                               os.environ.get("LAMBDA_TASK_ROOT", TASK_ROOT))
        status, text = invoke(handler, event, context)
    except Fault as fault:
        status, text = FUNCTION_ERROR, _fault_json(fault, request_id)
    sys.stdout.flush()
    sys.stderr.flush()
    _write_all(result_fd, text.encode())
    return status


def exit_code(exc: BaseException) -> int:
    """The status python gives an exception that ends the program."""
    if isinstance(exc, SystemExit):
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    import traceback
    traceback.print_exception(exc)
    return 1


def finish(status: int):
    """End as the interpreter does (its threads joined, atexit run, streams
    flushed) but without tearing it down, which takes ~1.5 ms and that a
    Lambda runtime, frozen between calls, never reliably does either."""
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    import atexit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status & 0xFF)


def run():
    """main() as the jail's program (jail.BOOT): ends as python would. Never returns."""
    try:
        status = main()
    except BaseException as exc:  # noqa: BLE001 - what python would do at the top level
        status = exit_code(exc)
    finish(status)


if __name__ == "__main__":
    run()
