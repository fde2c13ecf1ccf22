"""`pycontain fn exec`: its flags (one table for click and the lean parser),
their validation, and running the call.

Exit codes: 0 the handler returned (result JSON on stdout); 1 function error
(error JSON on stdout: the handler raised, or Runtime.ImportModuleError,
HandlerNotFound, UserCodeSyntaxError, MarshalError, OutOfMemory, ExitError);
2 the request was refused (event not JSON: Runtime.UnmarshalError; over 6 MB:
RequestTooLargeException); 124 timed out (Sandbox.Timedout); 125 pycontain
itself failed (bad flag, missing handler file, unknown image), one line on stderr;
127 the image has no python3; 130 interrupted.
"""
import os
import sys

from pycontain.flagtable import FLAG, MULTI, VALUE, parse as parse_flags
from pycontain.errors import PycontainError

EXEC_FLAGS = (
    ("--handler", "handler", VALUE, "Function to call: NAME, or Lambda's MODULE.FUNCTION."),
    ("--event", "event", VALUE, "The event: JSON, @FILE, or - for stdin (default: {})."),
    ("--timeout", "timeout", VALUE, "Seconds before the call is killed (default 3)."),
    ("--memory", "memory", VALUE, "Memory size, e.g. 128m or 1g (default 128m)."),
    ("--env", "env", MULTI, "Environment variable KEY=VALUE for the handler."),
    ("--network", "network", FLAG, "Share the host's network (default: loopback only)."),
    ("--image", "image", VALUE, "Image whose python runs the handler (default: python)."),
)
_BY_NAME = {name: (dest, kind) for name, dest, kind, _ in EXEC_FLAGS}
MIN_MEMORY, MAX_MEMORY, MAX_TIMEOUT = 128, 10240, 900
DEFAULT_DIR_HANDLER = "lambda_function.lambda_handler"  # Lambda's default


def fast_parse(args: list):
    """({dest: value}, target) for well-formed `fn exec` arguments, else None
    (help, unknown flags...: click then parses and reports). Flags may come
    before and after the target."""
    parsed = parse_flags(args, _BY_NAME)
    if parsed is None:
        return None
    values, target, rest = parsed
    if rest:
        more = parse_flags(rest + [target], _BY_NAME)
        if more is None or more[2]:
            return None
        for dest, value in more[0].items():
            values[dest] = values.get(dest, []) + value if isinstance(value, list) else value
    return values, target


def parse_memory(text) -> int:
    """'128m', '1g', '512' (MB) -> MB, within Lambda's 128..10240."""
    text = str(text).strip().lower()
    scale = {"m": 1, "mb": 1, "g": 1024, "gb": 1024}
    unit = next((u for u in ("mb", "gb", "m", "g") if text.endswith(u)), "")
    number = text[:len(text) - len(unit)]
    if not number.isdigit():
        raise PycontainError(f"invalid memory size {text!r}: use e.g. 128m or 1g")
    mb = int(number) * scale.get(unit, 1)
    if not MIN_MEMORY <= mb <= MAX_MEMORY:
        raise PycontainError(f"memory size {text!r} out of range: {MIN_MEMORY}m to {MAX_MEMORY}m")
    return mb


def parse_timeout(text) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise PycontainError(f"invalid timeout {text!r}: a number of seconds") from None
    if not 0 < seconds <= MAX_TIMEOUT:
        raise PycontainError(f"timeout {text!r} out of range: more than 0, at most {MAX_TIMEOUT}")
    return seconds


def parse_whole_timeout(text) -> int:
    """A function's Timeout, as Lambda takes it: whole seconds, 1 to 900
    (`fn create`/`update`; `fn exec --timeout` also takes fractions)."""
    text = str(text).strip()
    if not (text.isascii() and text.isdigit()):
        raise PycontainError(f"InvalidParameterValueException: invalid timeout {text!r}: "
                             f"a whole number of seconds, 1 to {MAX_TIMEOUT}")
    return int(parse_timeout(text))


def read_event(source) -> bytes:
    """--event: JSON text, @FILE or '-' (stdin); the default event is {}."""
    if source is None:
        return b"{}"
    if source == "-":
        return sys.stdin.buffer.read()
    if source.startswith("@"):
        try:
            with open(source[1:], "rb") as f:
                return f.read()
        except OSError as exc:
            raise PycontainError(f"cannot read event file {source[1:]}: {exc.strerror}") from None
    return source.encode()


def handler_target(target: str, handler):
    """(code path, MODULE.FUNCTION) for `fn exec TARGET [--handler NAME]`."""
    if not os.path.exists(target):
        raise PycontainError(f"handler {target}: no such file or directory")
    if os.path.isdir(target):
        return target, handler or DEFAULT_DIR_HANDLER
    module = os.path.basename(target)
    if not module.endswith(".py"):
        raise PycontainError(f"handler {target}: not a .py file (or give a directory)")
    module = module[:-3]
    if handler and "." in handler:
        return target, handler
    return target, f"{module}.{handler or 'handler'}"


def _readability_hint(code: str) -> None:
    """As root the handler runs as an unprivileged uid of its own (fn.jail):
    say so if it cannot read the code (the call then fails as Lambda does,
    with Runtime.ImportModuleError)."""
    from pycontain.fn.jail import sandbox_can_read

    if os.geteuid() == 0 and not sandbox_can_read(code):
        print(f"pycontain: warning: {code} is not world-readable: the handler runs as "
              "an unprivileged user and may fail to import it (chmod o+rX)", file=sys.stderr)


def exec_and_exit(values: dict, target: str) -> None:
    """Run the call, print the result (or error) JSON, exit with its code."""
    from pycontain.fn.oneshot.call import run_call
    from pycontain.fn.jail import JailConfig
    from pycontain.fn.oneshot.description_cache import take_key

    key = take_key()
    try:
        code, handler = handler_target(target, values.get("handler"))
        _readability_hint(code)
        name = os.path.basename(os.path.realpath(code)).removesuffix(".py")
        cfg = JailConfig(code=code, handler=handler,
                         function_name="".join(c if c.isalnum() or c in "-_" else "_"
                                               for c in name)[:64] or "function",
                         memory_mb=parse_memory(values.get("memory") or 128),
                         timeout=parse_timeout(values.get("timeout") or 3),
                         env=list(values.get("env") or ()), network=bool(values.get("network")),
                         image=values.get("image") or "python")
        outcome = run_call(cfg, read_event(values.get("event")), log_sink=2, key=key,
                           event_source=values.get("event"))
    except PycontainError as exc:
        print(f"pycontain: {exc}", file=sys.stderr)
        sys.exit(exc.code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.stdout.buffer.write(outcome.payload + b"\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(outcome.exit_code)  # nothing left to clean up: skip the interpreter's ~2 ms
