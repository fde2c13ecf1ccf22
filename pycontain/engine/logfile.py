"""A detached container's log, in docker's json-file format.

One JSON object a line: {"log": text (with its newline), "stream":
"stdout"|"stderr", "time": RFC 3339 with nanoseconds}. Output is cut into
lines per stream (a line longer than MAX_LINE is cut into records without a
newline, as docker's partial messages); what is left without a newline when
the container exits is written as it is. Containers that earlier versions
ran have a plain `ctr.log` (stdout and stderr mixed), read as stdout
(engine.logs).
"""
import json
import time

from pycontain.fdio import write_all
from pycontain.timefmt import rfc3339_nano

NAME = "ctr-json.log"
PLAIN_NAME = "ctr.log"  # the plain log of earlier versions
MAX_LINE = 16 * 1024
STREAMS = ("stdout", "stderr")


def record(stream: str, data: bytes, ns: int) -> bytes:
    """One line of the log file."""
    return json.dumps({"log": data.decode("utf-8", "replace"), "stream": stream,
                       "time": rfc3339_nano(ns)}, ensure_ascii=False,
                      separators=(",", ":")).encode() + b"\n"


class Writer:
    """Cuts each stream's output into lines and appends their records to fd."""

    def __init__(self, fd: int):
        self.fd = fd
        self.partial = {stream: b"" for stream in STREAMS}

    def write(self, stream: str, data: bytes) -> None:
        buffer = self.partial[stream] + data
        lines = buffer.split(b"\n")
        rest = lines.pop()
        pieces = [line + b"\n" for line in lines]
        while len(rest) >= MAX_LINE:
            pieces.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self.partial[stream] = rest
        self._emit(stream, pieces)

    def flush(self) -> None:
        """What each stream left without a newline (at the container's exit)."""
        for stream in STREAMS:
            rest, self.partial[stream] = self.partial[stream], b""
            self._emit(stream, [rest] if rest else [])

    def _emit(self, stream: str, pieces: list) -> None:
        if not pieces:
            return
        now = time.time_ns()
        try:
            write_all(self.fd, b"".join(record(stream, piece, now) for piece in pieces))
        except OSError:
            pass  # a full disk loses the log, not the container or its clients


STAMP_LEN = 30  # 2006-01-02T15:04:05.000000000Z
_SUFFIXES = {b',"stream":"%s","time":"' % stream.encode(): stream for stream in STREAMS}
_SUFFIX_LEN = len(next(iter(_SUFFIXES)))
_PREFIX = b'{"log":'


def parse(line: bytes):
    """(stream, time stamp as written, bytes) of one log line; None if it is
    not a record. Stamps of the writer's form (UTC, nine decimals) sort as
    the times they name. The writer's own lines without escapes are cut
    apart without a JSON parse (a 1 GB log has millions of lines)."""
    body = line.rstrip(b"\n")
    tail = STAMP_LEN + 2  # the stamp and '"}'
    if body.startswith(_PREFIX) and body.endswith(b'Z"}') and \
            len(body) >= len(_PREFIX) + 2 + _SUFFIX_LEN + tail:
        stream = _SUFFIXES.get(body[-tail - _SUFFIX_LEN:-tail])
        text = body[len(_PREFIX):-tail - _SUFFIX_LEN]
        newline = text.endswith(b'\\n"')  # the escape nearly every line has
        inner = text[1:-3] if newline else text[1:-1]
        if stream is not None and text.startswith(b'"') and text.endswith(b'"') and \
                len(text) >= 2 and b"\\" not in inner and b'"' not in inner:
            return stream, body[-tail:-2], inner + b"\n" if newline else inner
    return _parse_json(line)


def _parse_json(line: bytes):
    from pycontain.timefmt import parse_rfc3339, rfc3339_nano
    from pycontain.errors import PycontainError
    try:
        entry = json.loads(line)
        stream, text, stamp = entry["stream"], entry["log"], entry["time"]
        if stream not in STREAMS or not isinstance(text, str) or not isinstance(stamp, str):
            return None
        return stream, rfc3339_nano(parse_rfc3339(stamp)).encode(), text.encode()
    except (ValueError, KeyError, TypeError, PycontainError):
        return None
