"""HTTP routes to functions, as API Gateway's HTTP API has them: the route
table (stored in <data root>/fn/routes.json), its checks, and matching.

A route key is `$default` or `METHOD /path`: METHOD is GET, POST, PUT, PATCH,
DELETE, HEAD, OPTIONS or ANY; a path segment is a literal, a `{name}`
variable (one segment), or, last only, a greedy `{name+}` (one segment or
more). A request takes the most specific match (API Gateway's order): segment
by segment a literal beats a variable, which beats a greedy variable; then a
method beats ANY; `$default` catches what nothing else matched.

`pycontain fn route create/delete` change the table under a lock (flock) by
an atomic rename; a running `fn serve` reads it again when it changed.
"""
import fcntl
import os
import re
from urllib.parse import unquote

from pycontain import paths
from pycontain.errors import PycontainError
from pycontain.fsutil import read_json, write_json

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
FORMATS = ("2.0", "1.0")
DEFAULT = "$default"
MAX_ROUTES = 300      # API Gateway's routes per API
MAX_KEY = 1024        # characters of a route key
MAX_SEGMENTS = 64
VARIABLE = re.compile(r"\{([A-Za-z0-9._-]{1,128})(\+?)\}\Z")
LITERAL = re.compile(r"[A-Za-z0-9._~!$&'()*,;=:@%-]+\Z")  # RFC 3986 pchar
LITERAL_RANK, VARIABLE_RANK, GREEDY_RANK = 2, 1, 0


def _bad(message: str) -> PycontainError:
    return PycontainError(f"BadRequestException: {message}")


def parse_key(key: str) -> tuple:
    """(method, [(rank, literal or variable name)...]) of a route key;
    (None, None) for $default."""
    if key == DEFAULT:
        return None, None
    if not isinstance(key, str) or len(key) > MAX_KEY:
        raise _bad(f"a route key is $default or METHOD /path, at most {MAX_KEY} characters")
    method, sep, path = key.partition(" ")
    if not sep or method not in METHODS or not path.startswith("/"):
        raise _bad(f"invalid route key {key[:80]!r}: $default or METHOD /path, METHOD one of "
                   f"{', '.join(METHODS)}")
    if path == "/":
        return method, []
    parts = path[1:].split("/")
    if len(parts) > MAX_SEGMENTS:
        raise _bad(f"invalid route key {key[:80]!r}: more than {MAX_SEGMENTS} segments")
    segments, names = [], set()
    for i, part in enumerate(parts):
        variable = VARIABLE.match(part)
        if variable:
            name, greedy = variable.groups()
            if greedy and i != len(parts) - 1:
                raise _bad(f"invalid route key {key[:80]!r}: a greedy variable "
                           f"{{{name}+}} must be the path's last segment")
            if name in names:
                raise _bad(f"invalid route key {key[:80]!r}: variable {name} is repeated")
            names.add(name)
            segments.append((GREEDY_RANK if greedy else VARIABLE_RANK, name))
        elif LITERAL.match(part) and "{" not in part:
            segments.append((LITERAL_RANK, unquote(part)))
        else:
            raise _bad(f"invalid route key {key[:80]!r}: segment {part[:40]!r} is neither "
                       "a literal nor a {variable}")
    return method, segments


def _match_path(segments: list, parts: list):
    """The path parameters if the request's path parts (decoded) match."""
    params = {}
    for i, (rank, text) in enumerate(segments):
        if rank == GREEDY_RANK:
            rest = parts[i:]
            if not rest or rest == [""]:
                return None
            params[text] = "/".join(rest)
            return params
        if i >= len(parts) or not parts[i]:
            return None
        if rank == LITERAL_RANK:
            if parts[i] != text:
                return None
        else:
            params[text] = parts[i]
    return params if len(parts) == len(segments) else None


class Table:
    """Routes compiled for matching, most specific first."""

    def __init__(self, routes: list):
        self.default, compiled = None, []
        for route in routes:
            method, segments = parse_key(route["RouteKey"])
            if method is None:
                self.default = route
                continue
            order = tuple(-rank for rank, _ in segments) + (3,)  # a longer path: later
            compiled.append((order, method == "ANY", method, segments, route))
        compiled.sort(key=lambda c: (c[0], c[1]))
        self.routes = [c[2:] for c in compiled]

    def match(self, method: str, path: str):
        """(route, path parameters) for a request, or (None, None)."""
        parts = [unquote(p) for p in path[1:].split("/")] if path != "/" else []
        for route_method, segments, route in self.routes:
            if route_method not in ("ANY", method):
                continue
            params = _match_path(segments, parts)
            if params is not None:
                return route, params
        return (self.default, {}) if self.default else (None, None)


# -- the stored table -----------------------------------------------------------------
def _path() -> str:
    return os.path.join(paths.ensure_dir(os.path.join(paths.data_root(), "fn")), "routes.json")


def load() -> list:
    try:
        return read_json(_path())["routes"]
    except FileNotFoundError:
        return []


class _Locked:
    """The table, held under its lock for a change, written back on success."""

    def __enter__(self) -> list:
        self.fd = os.open(_path() + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.routes = load()
        return self.routes

    def __exit__(self, kind, _exc, _tb):
        try:
            if kind is None:
                write_json(_path(), {"routes": self.routes})
        finally:
            os.close(self.fd)


def create(key: str, function: str, payload_format: str = "2.0",
           api_key_required: bool = False) -> dict:
    from pycontain.fn.registry import functions
    parse_key(key)
    if payload_format not in FORMATS:
        raise _bad(f"payload format {payload_format[:16]!r}: 2.0 or 1.0")
    functions.get(functions.validate_name(function))
    route = {"RouteKey": key, "Function": function, "PayloadFormatVersion": payload_format,
             "ApiKeyRequired": bool(api_key_required)}
    with _Locked() as routes:
        if any(r["RouteKey"] == key for r in routes):
            raise PycontainError(f"ConflictException: route {key!r} already exists "
                                 "(fn route delete it first)")
        if len(routes) >= MAX_ROUTES:
            raise PycontainError(f"LimitExceededException: at most {MAX_ROUTES} routes")
        routes.append(route)
        routes.sort(key=lambda r: r["RouteKey"])
    return route


def delete(key: str) -> None:
    with _Locked() as routes:
        kept = [r for r in routes if r["RouteKey"] != key]
        if len(kept) == len(routes):
            raise PycontainError(f"NotFoundException: no route {key[:MAX_KEY]!r}")
        routes[:] = kept


class Watched:
    """The stored table for a server: read again whenever the file changed."""

    def __init__(self):
        self.version, self.table = None, Table([])

    def current(self) -> Table:
        try:
            st = os.stat(_path())
            version = (st.st_mtime_ns, st.st_ino, st.st_size)
        except FileNotFoundError:
            version = None
        if version != self.version:
            self.table, self.version = Table(load()), version
        return self.table
