"""A function's log stream, as CloudWatch Logs keeps a Lambda function's:
each call's START line, what the handler printed, END and REPORT; Event
invocations too; and what the handler's module prints as it is imported
(in the zygote, once for many calls). `fn serve` writes it, `pycontain fn logs NAME` shows it.

    <functions>/NAME/logs/stream.log     the newest events
    <functions>/NAME/logs/stream.log.1   the ones before (rotated at MAX_FILE bytes)

One event a line: milliseconds since the epoch, a tab, the message. A call's
lines are appended in one write once it ends (so calls running at once never
interleave); its START line carries the time the call began, the others the
time it ended. The stream lives in the function's directory: deleting the
function deletes it, and a call that ends after that writes nothing.
"""
import os
import re
import threading
import time

from pycontain.errors import PycontainError
from pycontain.fdio import write_all
from pycontain.fn.registry import functions

MAX_FILE = 1 << 20  # per file: a function's stream holds 1 to 2 MB of the newest events
STREAM, OLDER = "stream.log", "stream.log.1"
MAX_LINE = 256 * 1024  # a zygote's output without a newline is cut into events this long
FOLLOW_POLL = 0.2   # seconds between looks for new events (`fn logs -f`)
_SINCE = re.compile(r"(\d{1,9})([smhdw])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def log_dir(name: str) -> str:
    return os.path.join(functions.functions_dir(), functions.validate_name(name), "logs")


class Streams:
    """The writer of every function's stream in one server."""

    def __init__(self):
        self._lock = threading.Lock()

    def append(self, name: str, log: bytes, started: float) -> bool:
        """Append one call's log (started: when it began, time.time()). False
        if it could not be written (the function is gone, the disk is full):
        a log never fails a call."""
        now = int(time.time() * 1000)
        lines = log.decode(errors="replace").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        data = "".join(f"{int(started * 1000) if line.startswith('START ') else now}\t"
                       f"{line.rstrip(chr(13))}\n" for line in lines).encode()
        directory = log_dir(name)
        with self._lock:
            try:
                try:
                    os.mkdir(directory, 0o700)
                except FileExistsError:
                    pass
                path = os.path.join(directory, STREAM)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    size = os.fstat(fd).st_size
                    if size and size + len(data) > MAX_FILE:  # rotate: the older file goes
                        os.rename(path, os.path.join(directory, OLDER))
                        os.close(fd)
                        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT |
                                     os.O_CLOEXEC, 0o600)
                    write_all(fd, data[-MAX_FILE:])
                finally:
                    os.close(fd)
            except OSError:
                return False
        return True


    def output(self, name: str):
        """What appends a zygote's own output (the handler's module as it is
        imported) to function name's stream, a whole line at a time."""
        partial = bytearray()

        def take(data: bytes) -> None:
            partial.extend(data)
            end = partial.rfind(b"\n") + 1
            if end or len(partial) >= MAX_LINE:
                end = end or len(partial)
                self.append(name, bytes(partial[:end]), time.time())
                del partial[:end]
        return take

    @staticmethod
    def failed_start(out) -> bytes:
        """The log of a call that never ran (the handler's module failed to
        load): START, the error, END, as Lambda logs an init error."""
        from pycontain import jsonio
        rid = out.request_id
        try:
            error = jsonio.loads(out.payload)
            line = f"[ERROR] {error.get('errorType')}: {error.get('errorMessage')}"
        except (ValueError, AttributeError):
            line = "[ERROR] the function could not start"
        return (f"START RequestId: {rid} Version: $LATEST\n"
                + " ".join(line.splitlines()) + f"\nEND RequestId: {rid}\n").encode()


def parse_since(text: str, now: float | None = None) -> float:
    """--since: a duration back from now (30s, 5m, 2h, 1d, 1w) or an ISO 8601
    time (UTC unless it says otherwise); seconds since the epoch."""
    now = time.time() if now is None else now
    match = _SINCE.match(text.strip())
    if match:
        return now - int(match.group(1)) * _UNITS[match.group(2)]
    from datetime import datetime, timezone
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PycontainError(f"invalid --since {text!r}: a duration such as 30s, 5m, 2h, 1d "
                             "or a time such as 2024-05-01T12:00:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _format(line: str, since_ms: int) -> str | None:
    stamp, tab, message = line.partition("\t")
    if not tab or not stamp.isdigit() or int(stamp) < since_ms:
        return None
    ms = int(stamp)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + \
        f".{ms % 1000:03d}Z {message}"


class _Reader:
    """Reads whole lines from one file, from where it left off."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.ino = os.fstat(self.fd).st_ino
        self.rest = b""

    def lines(self) -> list:
        chunks = [self.rest]
        while data := os.read(self.fd, 1 << 16):
            chunks.append(data)
        *whole, self.rest = b"".join(chunks).split(b"\n")
        return [line.decode(errors="replace") for line in whole]

    def close(self) -> None:
        os.close(self.fd)


def _open(path: str):
    try:
        return _Reader(path)
    except FileNotFoundError:
        return None


def show(name: str, out, since: float = 0.0, follow: bool = False) -> None:
    """Write function name's events since `since` to out (a text stream);
    with follow, keep writing new ones until interrupted."""
    directory = log_dir(name)
    if not os.path.isdir(directory):
        functions.get(name)  # ResourceNotFoundException if there is no such function
    since_ms = int(since * 1000)

    def emit(lines):
        for line in lines:
            shown = _format(line, since_ms)
            if shown is not None:
                out.write(shown + "\n")
        out.flush()
    older = _open(os.path.join(directory, OLDER))
    if older is not None:
        emit(older.lines())
        older.close()
    path = os.path.join(directory, STREAM)
    current = _open(path)
    if current is not None:
        emit(current.lines())
    while follow:
        time.sleep(FOLLOW_POLL)
        try:
            ino = os.stat(path).st_ino
        except FileNotFoundError:
            ino = None
        if current is not None:
            emit(current.lines())
            if ino == current.ino:
                continue
            current.close()  # rotated: what it held is read; the new file follows
        elif not os.path.isdir(directory):
            functions.get(name)  # deleted while followed: say so
        current = _open(path) if ino is not None else None
        if current is not None:
            emit(current.lines())
