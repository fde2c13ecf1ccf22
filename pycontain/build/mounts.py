"""RUN --mount: what a RUN step sees that never enters its layer.

type=cache   target=, id= (default: the target), sharing=shared|private|locked,
             mode=, uid=, gid=, ro: a directory of the store
             (<store>/build-cache-mounts/<sha256 of id>) kept between builds;
             `locked` waits for other builds, `private` takes a fresh
             directory while another build holds it.
type=tmpfs   target=, size=: an empty tmpfs.
type=bind    target=, source= (in the build context, default its root): read
             only (rw would write into the context, and is refused); from=
             is not supported.
type=secret  id=, target= (default /run/secrets/ID), required: the file given
             by `--secret id=ID,src=PATH`, read only.
The mount points the runtime makes for them are left out of the layer
(layer.mount_stubs), and the cache key sees each mount's options, never a
secret's content or a cache directory's.
"""
import fcntl
import hashlib
import os
import posixpath
import tempfile

from pycontain.errors import PycontainError

_KEYS = {
    "cache": {"target", "id", "sharing", "mode", "uid", "gid", "ro", "readonly", "type",
              "dst", "destination"},
    "tmpfs": {"target", "size", "type", "dst", "destination"},
    "bind": {"target", "source", "src", "ro", "readonly", "type", "dst", "destination"},
    "secret": {"id", "target", "required", "type", "dst", "destination", "mode", "uid",
               "gid"},
}


def parse(text: str, workdir: str) -> dict:
    """`type=cache,target=/x,...` -> {key: value}, checked; target absolute."""
    fields = {}
    for part in (text or "").split(","):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not key:
            continue
        fields[key] = value if eq else "true"
    kind = fields.setdefault("type", "bind")
    if kind not in _KEYS:
        raise PycontainError(f"RUN --mount type={kind} is not supported")
    unknown = set(fields) - _KEYS[kind]
    if unknown:
        raise PycontainError(f"RUN --mount: unknown option {sorted(unknown)[0]} for {kind}")
    target = fields.get("target") or fields.get("dst") or fields.get("destination")
    if kind == "secret" and not target:
        target = f"/run/secrets/{fields.get('id', '')}"
    if not target:
        raise PycontainError(f"RUN --mount type={kind} needs a target")
    fields["target"] = posixpath.normpath(posixpath.join(workdir or "/", target))
    if kind == "secret" and not fields.get("id"):
        raise PycontainError("RUN --mount type=secret needs an id")
    if kind == "bind" and fields.get("ro", fields.get("readonly", "true")) == "false" \
            or kind == "bind" and "rw" in text.split(","):
        raise PycontainError("RUN --mount type=bind is read-only here")
    if kind == "cache" and fields.get("sharing", "shared") not in ("shared", "private", "locked"):
        raise PycontainError(f"RUN --mount: invalid sharing={fields['sharing']}")
    return fields


def key(mounts: list) -> list:
    """What the cache key sees of the mounts."""
    return [sorted(m.items()) for m in mounts]


class Prepared:
    """Spec mounts for a RUN step; close() releases cache locks and private dirs."""

    def __init__(self):
        self.spec = []
        self._fds = []
        self._tmp = []

    def close(self):
        for fd in self._fds:
            os.close(fd)
        from pycontain.fsutil import remove_tree
        for path in self._tmp:
            remove_tree(path)


def _ro(fields) -> bool:
    return fields.get("ro", fields.get("readonly", "false")) != "false"


def _cache_dir(store, fields, prepared: Prepared) -> str:
    from pycontain import paths
    top = paths.ensure_dir(os.path.join(store.root, "build-cache-mounts"))
    ident = fields.get("id") or fields["target"]
    path = os.path.join(top, hashlib.sha256(ident.encode()).hexdigest())
    if not os.path.isdir(path):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, int(fields.get("mode", "755"), 8))
        os.chown(path, int(fields.get("uid", 0)), int(fields.get("gid", 0)))
    sharing = fields.get("sharing", "shared")
    if sharing == "shared":
        return path
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (fcntl.LOCK_NB if sharing == "private" else 0))
    except BlockingIOError:  # private and in use: a directory of our own
        os.close(fd)
        fresh = tempfile.mkdtemp(dir=top, prefix="private-")
        prepared._tmp.append(fresh)
        return fresh
    prepared._fds.append(fd)
    return path


def prepare(mounts: list, store, context, secrets: dict) -> Prepared:
    prepared = Prepared()
    try:
        for fields in mounts:
            kind, target = fields["type"], fields["target"]
            if kind == "tmpfs":
                options = ["nosuid", "nodev", "mode=755"]
                if fields.get("size"):
                    options.append(f"size={fields['size']}")
                prepared.spec.append({"destination": target, "type": "tmpfs",
                                      "source": "tmpfs", "options": options})
                continue
            if kind == "cache":
                source, ro = _cache_dir(store, fields, prepared), _ro(fields)
            elif kind == "bind":
                found = context.lookup(fields.get("source") or fields.get("src") or "",
                                       follow_last=True)
                if found is None:
                    raise PycontainError(f"RUN --mount: {fields.get('source')}: not in the "
                                         "build context")
                source, ro = found[0], True
            else:
                source, ro = secrets.get(fields["id"]), True
                if source is None:
                    if fields.get("required", "false") != "false":
                        raise PycontainError(f"RUN --mount: secret {fields['id']} is required "
                                             "(give it with --secret id=ID,src=PATH)")
                    continue
            prepared.spec.append({"destination": target, "type": "bind", "source": source,
                                  "options": ["rbind", "ro" if ro else "rw", "nosuid", "nodev"]})
    except BaseException:
        prepared.close()
        raise
    return prepared
