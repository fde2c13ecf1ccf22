"""The pycontain-runc command: runc's command line over pycontain's runtime.

    pycontain-runc [global flags] COMMAND [flags] ID [args]

Errors: one line on stderr (and, with --log, in the log file: one JSON object
with --log-format json, as podman reads it), exit status 1; for an exec that
failed once its command line was read, "exec failed: ..." and 255, as runc.
"""
import sys

from pycontain.errors import PycontainError
from pycontain.runc.state import RuncError, UsageError, default_root

EXEC_FAILED = 255  # runc's status for an exec that could not run its process

VERSION = "0.1.0"
SPEC_VERSION = "1.0.2"


class Log:
    """runc's --log/--log-format: where errors and warnings also go."""

    def __init__(self, path, fmt: str, debug: bool):
        self.path, self.fmt, self.debug = path, fmt, debug

    def __call__(self, level: str, msg: str) -> None:
        if not self.path:
            return
        import time
        from pycontain.jsonio import dumps
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.fmt == "json":
            line = dumps({"level": level, "msg": msg, "time": stamp}, indent=None)
        else:
            line = f'time="{stamp}" level={level} msg={dumps(msg)}'
        try:
            with open(self.path, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass


USAGE = """usage: pycontain-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug]
       [--systemd-cgroup] [--rootless auto|true|false] COMMAND [FLAGS] ID [ARGS]
commands: create start run state kill delete exec ps pause resume update list features"""


def main(argv=None) -> int:
    from pycontain.runc.flags import parse
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
    except RuncError as exc:
        print(f"pycontain-runc: {exc}\n{USAGE}", file=sys.stderr)
        return 1
    if args.help:
        print(USAGE)
        return 0
    if args.version:
        print(f"pycontain-runc version {VERSION}\ncommit: pycontain\nspec: {SPEC_VERSION}")
        return 0
    log = Log(args.log, args.log_format, args.debug)
    if not args.command:
        print(f"pycontain-runc: a command is required\n{USAGE}", file=sys.stderr)
        return 1
    try:
        from pycontain.runc import commands
        return commands.dispatch(args, args.root or default_root(), log)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure is one line, never a traceback
        message, status = describe(exc), 1
        if args.command == "exec" and not isinstance(exc, UsageError):
            message, status = f"exec failed: {message}", EXEC_FAILED
    log("error", message)
    print(f"pycontain-runc: {message}", file=sys.stderr)
    return status


def describe(exc: Exception) -> str:
    """An error as one line: a PycontainError's own (RuncError, the core's),
    an OSError's reason with its path, else the unexpected error's type too."""
    if isinstance(exc, PycontainError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        paths = [p for p in (exc.filename, exc.filename2) if p is not None]
        text = f"{' -> '.join(map(str, paths))}: {exc.strerror}" if paths else exc.strerror
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
    return " ".join(text.split("\n"))


if __name__ == "__main__":
    sys.exit(main())
