"""A light record type: named fields with defaults, without importing dataclasses.

`dataclasses` pulls in `inspect` (~5 ms), a real cost on the start path of
every container; these records need only defaults and a dict view.
"""

def _fresh(default):
    return default.copy() if isinstance(default, (list, dict)) else default


class Record:
    """Subclasses set FIELDS = {name: default}; mutable defaults are copied."""

    FIELDS: dict = {}
    __slots__ = ()

    def __init__(self, **values):
        unknown = set(values) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(unknown)}")
        for name, default in self.FIELDS.items():
            setattr(self, name, values[name] if name in values else _fresh(default))

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}

    def replace(self, **values):
        return type(self)(**{**self.as_dict(), **values})

    def __repr__(self):
        return f"{type(self).__name__}({self.as_dict()!r})"
