"""Go durations ('30s', '1m30s', '500ms'), as docker's healthcheck flags and
the Dockerfile's HEALTHCHECK take them, in nanoseconds (how image configs
store them)."""
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
MAX_TEXT = 64  # longer is no duration anyone means


def go_duration(text: str) -> int:
    """Nanoseconds; '0' alone is zero; ValueError for anything else."""
    if text == "0":
        return 0
    pos, total = 0, 0.0
    if len(text) <= MAX_TEXT:
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {text!r}")
    return int(total)


def seconds_text(ns: int) -> str:
    """A duration as Go prints a whole or fractional number of seconds ('30s', '1.5s')."""
    return f"{ns / 1e9:g}s"
