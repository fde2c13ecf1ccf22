"""The engine's event log: what `pycontain events` shows.

Each event is one JSON line appended, in a single write, to events.log in
the data root (O_APPEND: lines from concurrent engines never interleave).
When the log passes MAX_BYTES it is renamed to events.log.1 (replacing the
one before), so the log stays bounded. Writing an event never fails a
command: a full disk loses the event, not the container.

A record is shaped like docker's: {"Type", "Action", "Actor": {"ID",
"Attributes"}, "time", "timeNano"} (plus "status", "id", "from" for
containers, as docker's older fields).
"""
import os
import time

from pycontain import jsonio, paths

LOG, OLD = "events.log", "events.log.1"
MAX_BYTES = 4 << 20
MAX_LINE = 64 << 10  # a longer line (a corrupt log) is skipped, never buffered whole


def _log_path(name: str = LOG) -> str:
    return os.path.join(paths.data_root(), name)


def emit(action: str, actor_id: str, attributes: dict, kind: str = "container") -> None:
    """Append one event (best effort)."""
    now = time.time_ns()
    record = {"Type": kind, "Action": action,
              "Actor": {"ID": actor_id, "Attributes": attributes},
              "time": now // 1_000_000_000, "timeNano": now}
    if kind == "container":
        record.update(status=action, id=actor_id, **{"from": attributes.get("image", "")})
    line = (jsonio.dumps(record, indent=None) + "\n").encode()
    try:
        fd = os.open(_log_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.write(fd, line)
        if os.fstat(fd).st_size > MAX_BYTES:
            os.rename(_log_path(), _log_path(OLD))
    except OSError:
        pass
    finally:
        os.close(fd)


def container_event(ctr, action: str, **extra) -> None:
    """An event about a container, its name and image as attributes."""
    emit(action, ctr.id, {"image": ctr.meta.get("image", ""), "name": ctr.name,
                          **{k: str(v) for k, v in extra.items()}})


def _lines(f, carry: bytes):
    """Whole lines read from f (a partial last line is carried to the next read)."""
    data = carry + f.read()
    *lines, rest = data.split(b"\n")
    if len(rest) > MAX_LINE:
        rest = b""
    return lines, rest


def _parse(line: bytes):
    import json
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("timeNano"), int) \
        else None


def read(since_ns: int = 0, until_ns: int | None = None, follow: bool = True,
         poll: float = 0.1):
    """Yield events with since_ns <= timeNano (<= until_ns); with follow, keep
    waiting for new ones until until_ns (forever without one)."""
    for name in (OLD, LOG):
        try:
            f = open(_log_path(name), "rb")
        except FileNotFoundError:
            continue
        with f:
            if name == LOG:
                yield from _follow(f, since_ns, until_ns, follow, poll)
                return
            lines, _ = _lines(f, b"")
            yield from _select(lines, since_ns, until_ns)
    if follow:  # no log yet: wait for one
        while until_ns is None or time.time_ns() < until_ns:
            time.sleep(poll)
            if os.path.exists(_log_path()):
                with open(_log_path(), "rb") as f:
                    yield from _follow(f, since_ns, until_ns, follow, poll)
                return


def _select(lines, since_ns, until_ns):
    for line in lines:
        record = _parse(line)
        if record is None or record["timeNano"] < since_ns:
            continue
        if until_ns is not None and record["timeNano"] > until_ns:
            continue
        yield record


def _follow(f, since_ns, until_ns, follow, poll):
    carry = b""
    inode = os.fstat(f.fileno()).st_ino
    while True:
        lines, carry = _lines(f, carry)
        yield from _select(lines, since_ns, until_ns)
        if not follow or (until_ns is not None and time.time_ns() >= until_ns):
            return
        time.sleep(poll)
        try:
            if os.stat(_log_path()).st_ino != inode:  # rotated: finish this one, open the new
                lines, _ = _lines(f, carry)
                yield from _select(lines, since_ns, until_ns)
                f = open(_log_path(), "rb")
                inode, carry = os.fstat(f.fileno()).st_ino, b""
        except FileNotFoundError:
            pass


def last_exit(actor_id: str, since_ns: int = 0):
    """The exit code in the newest `die` event of a container (None: none)."""
    code = None
    for record in read(since_ns, follow=False):
        if record.get("Action") == "die" and record.get("Actor", {}).get("ID") == actor_id:
            code = record["Actor"].get("Attributes", {}).get("exitCode")
    return int(code) if isinstance(code, str) and code.lstrip("-").isdigit() else None


def format_line(record: dict) -> str:
    """docker's text form: TIME TYPE ACTION ID (key=value, ...)."""
    from pycontain.timefmt import rfc3339_nano
    attrs = record.get("Actor", {}).get("Attributes", {})
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    return (f"{rfc3339_nano(record['timeNano'])} {record.get('Type')} "
            f"{record.get('Action')} {record.get('Actor', {}).get('ID', '')} ({pairs})")
