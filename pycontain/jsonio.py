"""JSON for pycontain's own files, cheap to import.

`import json` costs ~3.5 ms (it pulls in `re`, `enum` and `collections`; ~6 ms
of a pycontain-runc `create`), which `pycontain run` pays before doing any work.
Writing needs only this small encoder over the C string escaper; reading, only
the C scanner of `_json`; the real `json` is imported for an invalid document's
error message alone. (fn/injail/runner.py, which the jail sees alone, keeps its own.)
`parse` is for hostile input: any bad document is one PycontainError line.
"""
import _json
from _json import encode_basestring as _quote

from pycontain.errors import PycontainError


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


class _Decoding:
    """The settings json.JSONDecoder() hands to the C scanner."""
    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int = float, int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"),
                      "-Infinity": float("-inf")}.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_Decoding())


def loads(data):
    """json.loads(data) (str or UTF-8 bytes); ValueError with json's message if invalid."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    text = text.strip(" \t\n\r")
    try:
        obj, end = _scan(text, 0)
        if end == len(text):
            return obj
    except (StopIteration, SystemError, ValueError):
        pass  # _json reports errors only once json.decoder is imported
    finally:
        _Decoding.memo.clear()
    import json
    return json.loads(data)


def parse(data, what: str):
    """loads(data) for hostile input: PycontainError('<what> is not valid JSON
    (...)') if invalid, not UTF-8 or nested deeper than the stack allows."""
    try:
        return loads(data)
    except RecursionError:
        why = "nested too deeply"
    except ValueError as e:  # UnicodeDecodeError too
        why = str(e)
    raise PycontainError(f"{what} is not valid JSON ({why})") from None
