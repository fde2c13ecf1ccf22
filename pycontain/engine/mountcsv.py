"""`--mount type=bind|volume|tmpfs,source=..,target=..,...`: docker's CSV
syntax (fields may be quoted), parsed strictly: an unknown or repeated key,
or one that does not apply to the type, is an error."""
import csv

from pycontain.errors import PycontainError
from pycontain.engine.mountopts import (MAX_TEXT, PROPAGATIONS, bind_mount, destination,
                                        flag_value, tmpfs_options, volume_mount)

ALIASES = {"src": "source", "dst": "target", "destination": "target", "ro": "readonly"}
COMMON = {"type", "source", "target", "readonly", "consistency"}
BY_TYPE = {
    "bind": {"bind-propagation", "bind-nonrecursive"},
    "volume": {"volume-nocopy", "volume-label", "volume-driver"},
    "tmpfs": {"tmpfs-size", "tmpfs-mode"},
}
REPEATABLE = {"volume-label"}


def _fields(text: str, what: str) -> dict:
    if len(text) > MAX_TEXT or "\n" in text or "\r" in text:
        raise PycontainError(f"invalid {what}: too long, or not one line")
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise PycontainError(f"invalid {what}: {exc}") from None
    fields = {}
    for field in rows[0] if rows else ():
        key, eq, value = field.partition("=")
        key = ALIASES.get(key.strip().lower(), key.strip().lower())
        if key not in COMMON and not any(key in keys for keys in BY_TYPE.values()):
            raise PycontainError(f"invalid {what}: unexpected key {key[:80]!r}")
        if not eq and key not in ("readonly", "volume-nocopy", "bind-nonrecursive"):
            raise PycontainError(f"invalid {what}: field {field[:80]!r} must be a "
                                 "key=value pair")
        if key in fields and key not in REPEATABLE:
            raise PycontainError(f"invalid {what}: {key} given twice")
        fields.setdefault(key, []).append(value if eq else None)
    return fields


def parse_mount(text: str, dev: bool = False) -> tuple:
    """One --mount value: (OCI mount, volume reference or None)."""
    what = f"--mount {text[:200]!r}"
    fields = _fields(text, what)
    kind = (fields.pop("type", ["volume"]))[0]
    if kind not in BY_TYPE:
        raise PycontainError(f"invalid {what}: type must be bind, volume or tmpfs")
    for key in fields:
        if key not in COMMON and key not in BY_TYPE[kind]:
            raise PycontainError(f"invalid {what}: {key} does not apply to type={kind}")
    one = {key: values[0] for key, values in fields.items()}
    if not one.get("target"):
        raise PycontainError(f"invalid {what}: target is required")
    dst = destination(one["target"], what)
    mode = "ro" if "readonly" in one and flag_value(one["readonly"], "readonly", what) else "rw"
    source = one.get("source") or ""
    if kind == "tmpfs":
        if source:
            raise PycontainError(f"invalid {what}: a tmpfs has no source")
        opts = [o for key in ("tmpfs-size", "tmpfs-mode") if key in one
                for o in [f"{key[6:]}={one[key]}"]]
        return {"destination": dst, "type": "tmpfs", "source": "tmpfs",
                "options": tmpfs_options(opts + [mode], what)}, None
    options = ["rbind", mode, "dev" if dev else "nodev"]
    if kind == "bind":
        if not source:
            raise PycontainError(f"invalid {what}: a bind needs a source")
        propagation = one.get("bind-propagation") or "rprivate"
        if propagation not in PROPAGATIONS:
            raise PycontainError(f"invalid {what}: bind-propagation must be one of "
                                 + ", ".join(PROPAGATIONS))
        if "bind-nonrecursive" in one and flag_value(one["bind-nonrecursive"],
                                                "bind-nonrecursive", what):
            options[0] = "bind"
        return bind_mount(source, dst, what, options + [propagation]), None
    if one.get("volume-driver", "local") != "local":
        raise PycontainError(f"invalid {what}: only the local volume driver exists")
    copy = not ("volume-nocopy" in one
                and flag_value(one["volume-nocopy"], "volume-nocopy", what))
    mount, ref = volume_mount(source, dst, options, copy)
    labels = fields.get("volume-label")
    if labels:
        from pycontain.engine.volumes import parse_labels
        ref["labels"] = parse_labels(label or "" for label in labels)
    return mount, ref
