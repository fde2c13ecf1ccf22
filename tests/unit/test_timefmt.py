"""Times as docker reads and prints them (pycontain.timefmt), and the
bounded tail of a log file (engine.logs.tail_offset)."""
import io

import pytest

from pycontain.engine.logfile import MAX_LINE, Writer, parse
from pycontain.engine.logs import tail_offset
from pycontain.errors import PycontainError
from pycontain.timefmt import (human_duration, parse_duration_ns, parse_rfc3339, parse_time,
                               rfc3339_nano)

NOW = 1_700_000_000 * 10**9


@pytest.mark.parametrize("text, expected", [
    ("1700000000", NOW),
    ("1699999999.5", NOW - 5 * 10**8),
    ("1700000000.000000001", NOW + 1),
    ("10m", NOW - 600 * 10**9),
    ("1h30m", NOW - 5400 * 10**9),
    ("1.5s", NOW - 1_500_000_000),
    ("300ms", NOW - 300_000_000),
    ("2023-11-14T22:13:20Z", NOW),
    ("2023-11-14T22:13:20.123456789Z", NOW + 123456789),
    ("2023-11-14T23:13:20+01:00", NOW),
    ("2023-11-14T22:13:20", NOW),
    ("2023-11-14", NOW - (22 * 3600 + 13 * 60 + 20) * 10**9),
])
def test_since_and_until_values(text, expected):
    assert parse_time(text, NOW) == expected


def test_times_beyond_the_logs_range_are_bounded():
    """--since 9999999h means everything (docker prints it all), not nothing
    or a traceback; a far future Unix time stops at the year 9999."""
    assert parse_time("9999999h", NOW) == 0
    assert parse_time("99999999999h", NOW) == 0
    assert parse_time("999999999999", NOW) == 253402300799 * 10**9


@pytest.mark.parametrize("text", ["", "yesterday", "10x", "-5m", "2023-13-01",
                                  "2023-11-14T25:00:00Z", "1" * 100, "5m5", "m"])
def test_bad_times_are_refused(text):
    with pytest.raises(PycontainError):
        parse_time(text, NOW)


def test_durations_and_rfc3339_round_trip():
    assert parse_duration_ns("1h2m3s") == 3723 * 10**9
    assert parse_duration_ns("0") == 0
    assert rfc3339_nano(NOW + 42) == "2023-11-14T22:13:20.000000042Z"
    assert parse_rfc3339(rfc3339_nano(NOW + 42)) == NOW + 42
    with pytest.raises(PycontainError):
        parse_rfc3339("10m")


@pytest.mark.parametrize("seconds, text", [
    (0.2, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
    (7200, "2 hours"), (47 * 3600, "47 hours"), (3 * 86400, "3 days"),
    (15 * 86400, "2 weeks"), (90 * 86400, "3 months"), (3 * 365 * 86400, "3 years"),
])
def test_human_durations_as_docker_prints_them(seconds, text):
    assert human_duration(seconds) == text


@pytest.mark.parametrize("content, count, expected", [
    (b"", 3, (0, 0)), (b"a\n", 1, (0, 1)), (b"a\nb\nc\n", 2, (2, 2)),
    (b"a\nb\nc\n", 5, (0, 3)), (b"a\nb\npartial", 1, (4, 1)), (b"\n\n", 1, (1, 1)),
])
def test_tail_offset(content, count, expected):
    assert tail_offset(io.BytesIO(content), count) == expected


def test_tail_offset_reads_blocks_from_the_end():
    lines = [b"%d\n" % i for i in range(100_000)]
    f = io.BytesIO(b"".join(lines))
    offset, found = tail_offset(f, 3)
    assert found == 3 and f.getvalue()[offset:] == b"99997\n99998\n99999\n"


def test_log_writer_cuts_lines_per_stream(tmp_path):
    path = tmp_path / "log"
    with open(path, "wb") as f:
        writer = Writer(f.fileno())
        writer.write("stdout", b"one\ntw")
        writer.write("stderr", b"err\n")
        writer.write("stdout", b"o\n" + b"x" * (MAX_LINE + 5))
        writer.flush()
    records = [parse(line) for line in path.read_bytes().splitlines()]
    assert [(s, d) for s, _, d in records] == [
        ("stdout", b"one\n"), ("stderr", b"err\n"), ("stdout", b"two\n"),
        ("stdout", b"x" * MAX_LINE), ("stdout", b"xxxxx")]
    assert parse(b'{"log": 1}') is None and parse(b"not json") is None


def test_log_records_parse_fast_or_through_json_alike():
    """The writer's lines are cut apart without JSON where they have no
    escapes but the final newline; the result is the same as json's."""
    import json
    from pycontain.engine.logfile import record
    for data in (b"plain\n", b"", b"\n", "caf\u00e9\n".encode(), b'say "hi"\n', b"a\\n",
                 b"tab\there", b"\\", b"\xff\n"):
        line = record("stderr", data, NOW + 7)
        stream, stamp, text = parse(line)
        entry = json.loads(line)
        assert (stream, stamp.decode(), text) == ("stderr", entry["time"], entry["log"].encode())
        assert stamp == rfc3339_nano(NOW + 7).encode()
