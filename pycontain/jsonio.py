"""JSON for pycontain's own files, cheap to import.

`import json` costs ~3.5 ms (it pulls in `re` and `enum`), which `pycontain run`
pays before doing any work. Writing needs only this small encoder over the C
string escaper; reading imports the real `json` when it is first needed.
"""
from _json import encode_basestring as _quote


def dumps(obj, indent: int | None = 1, _level: int = 0) -> str:
    """Encode dicts, lists, tuples, str, int, float, bool and None as JSON."""
    if isinstance(obj, str):
        return _quote(obj)
    if obj is None or isinstance(obj, bool):
        return {None: "null", True: "true", False: "false"}[obj]
    if isinstance(obj, (int, float)):
        if obj != obj or obj in (float("inf"), float("-inf")):
            raise ValueError(f"cannot encode {obj!r} as JSON")
        return repr(obj) if isinstance(obj, float) else str(int(obj))
    if isinstance(obj, dict):
        items = [f"{_quote(str(k))}: {dumps(v, indent, _level + 1)}" for k, v in obj.items()]
        return _wrap("{", items, "}", indent, _level)
    if isinstance(obj, (list, tuple)):
        return _wrap("[", [dumps(v, indent, _level + 1) for v in obj], "]", indent, _level)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def _wrap(open_: str, items: list, close: str, indent, level: int) -> str:
    if not items:
        return open_ + close
    if indent is None:
        return open_ + ", ".join(items) + close
    inner = "\n" + " " * (indent * (level + 1))
    return open_ + inner + ("," + inner).join(items) + "\n" + " " * (indent * level) + close


def loads(data):
    import json
    return json.loads(data)
