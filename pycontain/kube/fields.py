"""The field validators of kube's YAML: each names the document and field of
a problem (`FILE document N (Kind name): field: problem`), bounds sizes, and
warns of fields it does not know."""
import re

from pycontain.errors import PycontainError

MAX_ITEMS = 200  # containers, env entries, ports, volumes... per list
MAX_WARNINGS = 100
MAX_KEY = 253  # a ConfigMap/Secret key, as Kubernetes (and a file name) allows
NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
KEY_RE = re.compile(r"[-._a-zA-Z0-9]+$")


class Where:
    """Names the place of a problem: `FILE document N (Kind name): field`."""

    def __init__(self, source: str, index: int, warnings: list):
        self.doc, self.warnings = f"{source} document {index}", warnings

    def fail(self, field: str, problem: str):
        raise PycontainError(f"{self.doc}: {field}: {problem}")

    def known(self, obj: dict, keys: set, field: str) -> None:
        if id(obj) in self.warnings.seen:
            return  # an alias of a mapping already looked at: no warnings multiplied
        self.warnings.seen[id(obj)] = obj  # kept alive: its id is not reused
        for key in obj:
            if key not in keys:
                self.warnings.add(f"{self.doc}: {field}.{key} is not supported: ignored")


class Warnings(list):
    """The warnings of a load: at most MAX_WARNINGS, then a count of the others;
    `seen` holds the mappings checked, by id."""

    def __init__(self):
        super().__init__()
        self.seen, self.more = {}, 0

    def add(self, text: str) -> None:
        if len(self) < MAX_WARNINGS:
            self.append(text)
        else:
            self.more += 1

    def done(self) -> list:
        return list(self) + ([f"and {self.more} more fields not supported: ignored"]
                             if self.more else [])


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


def flag(where, value, field, default: bool = False) -> bool:
    """A YAML boolean (true/false), not a string such as "false"."""
    if value is None:
        return default
    if not isinstance(value, bool):
        where.fail(field, f"must be true or false, not {_shown(value)}")
    return value


def scalar(where, value, field, default: str = "") -> str:
    """A string, number or (YAML) boolean as text; never a list or mapping
    (whose text could be huge: aliases are shared, not copied)."""
    if value is None:
        return default
    if not isinstance(value, (str, int, float)):
        where.fail(field, "must be a string")
    return str(value)


def _shown(value) -> str:
    return repr(value) if isinstance(value, (str, int, float)) else f"a {type(value).__name__}"


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
        if not isinstance(key, str) or len(key) > MAX_KEY or not KEY_RE.match(key):
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
