"""--filter KEY=VALUE as docker reads it: values of one key are
alternatives (any may match), different keys must all match."""
import fnmatch

from pycontain.errors import PycontainError

MAX_FILTERS = 64


def parse(items, allowed: tuple) -> dict:
    """{key: [values]} from --filter items, keys among allowed."""
    if len(items) > MAX_FILTERS:
        raise PycontainError(f"too many --filter values (at most {MAX_FILTERS})")
    wanted = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq or not key:
            raise PycontainError(f"bad format of filter {item!r} (expected name=value)")
        if key not in allowed:
            raise PycontainError(f"invalid filter {key!r}: use one of {', '.join(allowed)}")
        wanted.setdefault(key, []).append(value)
    return wanted


def label_matches(labels: dict, wanted: str) -> bool:
    """label=KEY (present) or label=KEY=VALUE."""
    key, eq, value = wanted.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def labels_match(labels: dict, values: list) -> bool:
    """docker: every label= filter must match (unlike other keys)."""
    return all(label_matches(labels or {}, v) for v in values)


def glob(pattern: str, text: str) -> bool:
    """Go's path.Match, near enough: * does not cross a /."""
    return fnmatch.fnmatchcase(text, pattern) and \
        pattern.count("/") == text.count("/")


def boolean(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise PycontainError(f"invalid filter '{key}={value}': use true or false")
