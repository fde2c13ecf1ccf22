"""Times as docker reads and writes them: --since/--until values, RFC 3339
with nanoseconds, and the human durations of `ps` ("About a minute ago")."""
import datetime
import re
import time

from pycontain.errors import PycontainError

_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)")
_UNIX = re.compile(r"(\d{1,12})(?:\.(\d{1,9}))?")
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?"
                      r"([Zz]|[+-]\d\d:?\d\d)?")
MAX_TEXT = 64


def parse_duration_ns(text: str) -> int:
    """Go's time.ParseDuration without the sign ("1h30m", "1.5s", "300ms")."""
    if text == "0":
        return 0
    if not text or len(text) > MAX_TEXT or _DURATION.sub("", text):
        raise PycontainError(f"invalid duration {text!r}: use a number with a unit "
                             "(ns, us, ms, s, m, h), e.g. 10m or 1h30m")
    total = 0
    for part in _DURATION.findall(text):
        number, unit = re.fullmatch(r"([\d.]+)(\D+)", part).groups()
        whole, _, frac = number.partition(".")
        scale = _UNITS_NS[unit]
        total += int(whole or 0) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
    return total


def _from_rfc3339(match) -> int:
    year, month, day, hour, minute, sec, frac, zone = match.groups()
    tz = datetime.timezone.utc
    if zone and zone not in "Zz":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]),
                                                          minutes=int(digits[2:])))
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour or 0),
                                   int(minute or 0), int(sec or 0), tzinfo=tz)
    except ValueError as exc:
        raise PycontainError(f"invalid time {match.group(0)!r}: {exc}") from None
    return int(moment.timestamp()) * 1_000_000_000 + int((frac or "0").ljust(9, "0"))


def parse_rfc3339(text: str) -> int:
    """An RFC 3339 time (as the log's "time"): nanoseconds since the epoch."""
    stamp = _RFC3339.fullmatch(text) if len(text) <= MAX_TEXT else None
    if not stamp:
        raise PycontainError(f"invalid RFC 3339 time {text[:MAX_TEXT]!r}")
    return _from_rfc3339(stamp)


LAST_NS = 253402300799 * 1_000_000_000  # 9999-12-31T23:59:59Z


def _bounded(ns: int) -> int:
    """A time between 1970 and the year 9999 (what the log's times can be)."""
    return min(max(ns, 0), LAST_NS)


def parse_time(text: str, now_ns: int | None = None) -> int:
    """docker's --since/--until: Unix seconds (with up to 9 decimals), an RFC
    3339 time or date (UTC unless it names a zone), or a duration before now
    (10s, 5m, 1h30m); nanoseconds since the epoch."""
    text = text.strip()
    now_ns = time.time_ns() if now_ns is None else now_ns
    if len(text) <= MAX_TEXT:
        unix = _UNIX.fullmatch(text)
        if unix:
            return _bounded(int(unix.group(1)) * 1_000_000_000 +
                            int((unix.group(2) or "0").ljust(9, "0")))
        stamp = _RFC3339.fullmatch(text)
        if stamp:
            return _from_rfc3339(stamp)
        if _DURATION.match(text):
            return _bounded(now_ns - parse_duration_ns(text))
    raise PycontainError(f"invalid time {text[:MAX_TEXT]!r}: use Unix seconds, RFC 3339 "
                         "(2006-01-02T15:04:05Z) or a duration such as 10m")


def rfc3339_nano(ns: int) -> str:
    """2006-01-02T15:04:05.000000000Z (UTC, always nine decimals)."""
    stamp = datetime.datetime.fromtimestamp(ns // 1_000_000_000, datetime.timezone.utc)
    return f"{stamp:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000:09d}Z"


def iso(ts: float) -> str:
    """A Unix time as docker's JSON shows it (0: Go's zero time)."""
    if not ts:
        return "0001-01-01T00:00:00Z"
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat().replace(
        "+00:00", "Z")


def go_time_string(ts: float) -> str:
    """Go's time.String() in UTC, as docker's CreatedAt: 2006-01-02 15:04:05 +0000 UTC."""
    moment = datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S} +0000 UTC"


def human_duration(seconds: float) -> str:
    """docker's units.HumanDuration: "Less than a second", "About a minute", "2 hours"."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = secs // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def ago(ts: float, now: float | None = None) -> str:
    """"2 hours ago", as `ps` and `images` show a past moment."""
    return human_duration((time.time() if now is None else now) - ts) + " ago"
