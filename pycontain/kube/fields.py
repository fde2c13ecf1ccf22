"""The field validators of kube's YAML: each names the document and field of
a problem (`FILE document N (Kind name): field: problem`), bounds sizes, and
warns of fields it does not know."""
import re

from pycontain.errors import PycontainError

MAX_ITEMS = 200  # containers, env entries, ports, volumes... per list
NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
KEY_RE = re.compile(r"[-._a-zA-Z0-9]+$")


class Where:
    """Names the place of a problem: `FILE document N (Kind name): field`."""

    def __init__(self, source: str, index: int, warnings: list):
        self.doc, self.warnings = f"{source} document {index}", warnings

    def fail(self, field: str, problem: str):
        raise PycontainError(f"{self.doc}: {field}: {problem}")

    def known(self, obj: dict, keys: set, field: str) -> None:
        for key in obj:
            if key not in keys:
                self.warnings.append(f"{self.doc}: {field}.{key} is not supported: ignored")


def typed(where, obj, kind, field, required=False):
    if obj is None:
        if required:
            where.fail(field, "is required")
        return kind()
    if not isinstance(obj, kind) or isinstance(obj, bool) and kind is int:
        where.fail(field, f"must be {'a mapping' if kind is dict else 'a ' + kind.__name__}")
    if isinstance(obj, (list, dict)) and len(obj) > MAX_ITEMS:
        where.fail(field, f"has more than {MAX_ITEMS} entries")
    return obj


def valid_name(where, value, field) -> str:
    value = typed(where, value, str, field, required=True)
    if len(value) > 50 or not NAME_RE.match(value):
        where.fail(field, f"invalid name {value!r} (lower case letters, digits and '-', "
                          "at most 50 characters)")
    return value


def strings(where, value, field) -> list:
    items = typed(where, value, list, field)
    for i, item in enumerate(items):
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            where.fail(f"{field}[{i}]", "must be a string")
    return [str(i) for i in items]


def string_map(where, value, field) -> dict:
    items = typed(where, value, dict, field)
    for key, item in items.items():
        if not isinstance(key, str) or not KEY_RE.match(key):
            where.fail(field, f"invalid key {key!r}")
        if not isinstance(item, str):
            where.fail(f"{field}.{key}", "must be a string")
    return items


def port_number(where, value, field, names=False):
    if names and isinstance(value, str):
        return value
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        where.fail(field, f"invalid port {value!r}")
    return value


def protocol(where, value, field) -> str:
    if value not in ("TCP", "UDP"):
        where.fail(field, f"invalid {value!r} (want TCP or UDP)")
    return value.lower()


def whole(where, value, field, low: int, high: int) -> int:
    """An integer from low to high."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        where.fail(field, f"invalid {value!r} (want {low}-{high})")
    return value
