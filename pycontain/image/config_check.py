"""The image config's shape, checked once at import.

An image config comes from anyone, and `run`, `build`, `images --filter`,
`history` and `inspect` read it without checking types. check() refuses, with
one line, a config whose fields pycontain reads have the wrong JSON type
(docker's decoder refuses those too). null stands for unset, as docker
writes it; fields pycontain does not read are left alone.
"""
from pycontain.errors import PycontainError

_STRING_LISTS = ("Env", "Cmd", "Entrypoint", "Shell", "OnBuild")
_OBJECTS = ("ExposedPorts", "Volumes", "Healthcheck")
_STRINGS = ("User", "WorkingDir", "StopSignal")
_HISTORY_STRINGS = ("created", "created_by", "comment", "author")


def check(config: dict, what: str) -> None:
    """Raise PycontainError('malformed image config <what>: ...') unless the
    fields pycontain reads have their types."""
    def refuse(field: str, shape: str):
        raise PycontainError(f"malformed image config {what}: {field} is not {shape}")

    if config.get("created") is not None and not isinstance(config["created"], str):
        refuse("created", "a string")
    cfg = config.get("config")
    if cfg is not None:
        if not isinstance(cfg, dict):
            refuse("config", "an object")
        for key in _STRING_LISTS:
            if not _null_or(cfg.get(key), list, str):
                refuse(f"config.{key}", "a list of strings")
        labels = cfg.get("Labels")
        if not _null_or(labels, dict, str):
            refuse("config.Labels", "an object of strings")
        for key in _OBJECTS:
            if not _null_or(cfg.get(key), dict):
                refuse(f"config.{key}", "an object")
        for key in _STRINGS:
            if not _null_or(cfg.get(key), str):
                refuse(f"config.{key}", "a string")
    history = config.get("history")
    if not _null_or(history, list, dict):
        refuse("history", "a list of objects")
    for i, entry in enumerate(history or ()):
        for key in _HISTORY_STRINGS:
            if not _null_or(entry.get(key), str):
                refuse(f"history[{i}].{key}", "a string")
        if not _null_or(entry.get("empty_layer"), bool):
            refuse(f"history[{i}].empty_layer", "a boolean")


def _null_or(value, kind, item=None) -> bool:
    """value is None, or a kind whose items (list) or values (dict) are items."""
    if value is None:
        return True
    if not isinstance(value, kind):
        return False
    if item is None:
        return True
    return all(isinstance(v, item) for v in (value.values() if kind is dict else value))
