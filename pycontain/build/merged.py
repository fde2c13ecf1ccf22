"""The merged view of unpacked layers (store format: overlay whiteouts as
0/0 character devices, opaque directories by the overlay xattr), read
without mounting: what COPY --from and COPY's destination checks see.
Paths are taken literally (no symlink in a parent is followed)."""
import os
import stat

from pycontain.image.unpack import overlay_xattr_prefix

_OPAQUE = overlay_xattr_prefix() + "opaque"


def _whiteout(st) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def opaque(path: str) -> bool:
    try:
        return os.getxattr(path, _OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


class Merged:
    """layer_dirs: bottom first, as Image.layer_dirs."""

    def __init__(self, layer_dirs):
        self.layers = list(reversed(layer_dirs))  # top first

    def _visible_layers(self, rel: str):
        """Top-first layers that may show rel: a layer whose copy of a parent is a
        whiteout, a non-directory or an opaque directory hides those below it."""
        parts = [p for p in rel.split("/") if p]
        for layer in self.layers:
            yield layer
            path = layer
            blocked = False
            for part in parts[:-1]:
                path = os.path.join(path, part)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISDIR(st.st_mode) or opaque(path):
                    blocked = True
                    break
            if blocked:
                return

    def lookup(self, rel: str):
        """(host path, lstat) of rel in the merged tree, or None."""
        rel = rel.strip("/")
        if not rel:
            return (self.layers[0], os.lstat(self.layers[0])) if self.layers else None
        for layer in self._visible_layers(rel):
            path = os.path.join(layer, rel)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            return None if _whiteout(st) else (path, st)
        return None

    def listdir(self, rel: str) -> list:
        """Sorted names in the merged directory rel."""
        rel = rel.strip("/")
        seen, hidden = set(), set()
        for layer in self._visible_layers(rel + "/x"):
            path = os.path.join(layer, rel) if rel else layer
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                break
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.name in seen or entry.name in hidden:
                        continue
                    est = entry.stat(follow_symlinks=False)
                    (hidden if _whiteout(est) else seen).add(entry.name)
            if opaque(path):
                break
        return sorted(seen)

    def walk(self, rel: str):
        """(rel path, host path, lstat) of rel and everything below it, parents
        first, names sorted; iterative."""
        found = self.lookup(rel)
        if found is None:
            return
        todo = [(rel.strip("/"), found)]
        while todo:
            path, (host, st) = todo.pop()
            yield path, host, st
            if stat.S_ISDIR(st.st_mode):
                children = []
                for name in self.listdir(path):
                    child = f"{path}/{name}" if path else name
                    got = self.lookup(child)
                    if got is not None:
                        children.append((child, got))
                todo.extend(reversed(children))
