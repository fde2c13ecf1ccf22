"""`logs`: a detached container's log (engine.logfile), read as docker does:
stdout and stderr to their own fds, the last N lines (--tail, found from
the end of the file, without reading the rest), --since/--until, -t
timestamps, -f following until the container exits."""
import os
import time
from dataclasses import dataclass

from pycontain.engine import logfile
from pycontain.errors import PycontainError
from pycontain.fdio import write_all
from pycontain.timefmt import rfc3339_nano

BLOCK = 1 << 16
MAX_RECORD = 1 << 20  # longer lines are not the writer's: skipped


@dataclass
class Query:
    tail: int | None = None  # None: all lines
    since_ns: int = 0
    until_ns: int | None = None
    follow: bool = False
    timestamps: bool = False


def parse_tail(text: str) -> int | None:
    """--tail N|all (docker: a negative number means all too)."""
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise PycontainError(f"invalid --tail {text!r}: use a number of lines or all") from None
    return None if value < 0 else value


def tail_offset(f, count: int) -> tuple:
    """(offset where the last count (>= 1) lines of f start, lines found
    from there), reading f backwards a block at a time."""
    end = f.seek(0, os.SEEK_END)
    f.seek(max(0, end - 1))
    pos = end - 1 if f.read(1) == b"\n" else end  # the newline ending the last line
    found = 0
    while pos > 0:
        start = max(0, pos - BLOCK)
        f.seek(start)
        block = f.read(pos - start)
        index = len(block)
        while (index := block.rfind(b"\n", 0, index)) >= 0:
            found += 1
            if found == count:
                return start + index + 1, found
        pos = start
    return 0, found + (1 if end else 0)


def _lines(f, follow_until=None, poll: float = 0.05):
    """Complete lines of f from its position; with follow_until (a function
    saying whether to stop), keep reading what is appended (yielding None
    each time it waits)."""
    partial, overflow = b"", False
    while True:
        line = f.readline(MAX_RECORD)
        if line.endswith(b"\n"):
            if not overflow and len(partial) + len(line) <= MAX_RECORD:
                yield partial + line
            partial, overflow = b"", False
            continue
        if line:
            if overflow or len(partial) + len(line) > MAX_RECORD:
                partial, overflow = b"", True
            else:
                partial += line
            if len(line) == MAX_RECORD:
                continue
        if follow_until is None:
            if partial:
                yield partial  # a last line without its newline
            return
        if follow_until():
            follow_until = None  # one more pass for what came before the end
            continue
        yield None  # waiting: what was read can be written
        time.sleep(poll)


def _sources(ctr) -> list:
    """(path, is json) of the logs that exist, oldest first."""
    found = [(ctr.path(name), name == logfile.NAME) for name in (logfile.PLAIN_NAME, logfile.NAME)
             if os.path.exists(ctr.path(name))]
    if not found and ctr.status != "created":  # created, never started: nothing yet
        raise PycontainError(f"container {ctr.name} has no logs (it was not run detached)")
    return found


def _records(path: str, is_json: bool, f, follow_until):
    """(stream, stamp, bytes) of each line; None when a follow waits."""
    stamp = rfc3339_nano(os.stat(path).st_mtime_ns).encode()
    for line in _lines(f, follow_until):
        if line is None or not is_json:
            yield None if line is None else ("stdout", stamp, line)
            continue
        entry = logfile.parse(line)
        if entry is not None:
            yield entry


def _tail_starts(sources: list, wanted) -> list:
    """Where to start reading each source for the last `wanted` lines of all."""
    starts = [0] * len(sources)
    for i in reversed(range(len(sources))):
        if wanted is None:
            break
        with open(sources[i][0], "rb") as f:
            starts[i], found = tail_offset(f, wanted) if wanted else (f.seek(0, 2), 0)
        wanted = max(0, wanted - found)
    return starts


def records(ctr, query: Query):
    """(stream, stamp, bytes) of the log lines the query selects (stamps:
    RFC 3339 with nine decimals, as bytes, which sort as times); None while
    a follow waits for more."""
    sources = _sources(ctr)
    since = rfc3339_nano(query.since_ns).encode() if query.since_ns else b""
    until = rfc3339_nano(query.until_ns).encode() if query.until_ns is not None else None
    for i, start in enumerate(_tail_starts(sources, query.tail)):
        path, is_json = sources[i]
        stop = _stop(ctr, query) if query.follow and i == len(sources) - 1 else None
        with open(path, "rb") as f:
            f.seek(start)
            for entry in _records(path, is_json, f, stop):
                if entry is not None and entry[1] < since:
                    continue
                if entry is not None and until is not None and entry[1] > until:
                    return
                yield entry


def _stop(ctr, query: Query):
    def done() -> bool:
        if query.until_ns is not None and time.time_ns() > query.until_ns:
            return True
        return not os.path.exists(ctr.dir) or not (ctr.alive() or ctr.monitor_alive())
    return done


def show(ctr, query: Query, out_fd: int = 1, err_fd: int = 2) -> None:
    """Write the selected lines, stdout's to out_fd and stderr's to err_fd
    (gathered into writes of up to BLOCK bytes, in order)."""
    pending, fd = [], out_fd
    size = 0
    for entry in records(ctr, query):
        target = None if entry is None else (err_fd if entry[0] == "stderr" else out_fd)
        if pending and (target != fd or size >= BLOCK):
            write_all(fd, b"".join(pending))
            pending, size = [], 0
        if entry is None:
            continue
        data = entry[1] + b" " + entry[2] if query.timestamps else entry[2]
        pending.append(data)
        size += len(data)
        fd = target
    if pending:
        write_all(fd, b"".join(pending))
