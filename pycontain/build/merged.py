"""The merged view of unpacked layers (store format: overlay whiteouts as
0/0 character devices, opaque directories by the overlay xattr), read
without mounting: what COPY --from and COPY's destination checks see.
Paths are taken literally (no symlink in a parent is followed)."""
import os
import stat

from pycontain.image.whiteout import is_opaque, is_whiteout, overlay_xattr_prefix

_OPAQUE = overlay_xattr_prefix() + "opaque"


def opaque(path: str) -> bool:
    return is_opaque(path, _OPAQUE)


MAX_SYMLINKS = 40


def resolve(tree, rel: str, follow_last: bool = False) -> str:
    """rel with every symlink met on the way resolved inside tree, as if its
    root were '/' (the last component too if follow_last): a path in the
    tree whose parents are all real directories of it. tree.literal(rel)
    looks a path up when its parents are known to be directories."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    done = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        found = tree.literal("/".join(done + [part]))
        if found is not None and stat.S_ISLNK(found[1].st_mode) and (parts or follow_last):
            links += 1
            if links > MAX_SYMLINKS:
                from pycontain.errors import PycontainError
                raise PycontainError(f"too many levels of symbolic links in {rel}")
            target = os.readlink(found[0])
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        done.append(part)
    return "/".join(done)


def walk(tree, rel: str, entry):
    """(rel, host, lstat) of rel and everything below it in tree (a context or
    a merged view: resolve, literal, listdir), parents first, iteratively;
    entry(child rel, parent's host path, name) -> (host, lstat) or None."""
    rel = resolve(tree, rel)
    found = tree.literal(rel)
    if found is None:
        return
    todo = [(rel, found)]
    while todo:
        path, (host, st) = todo.pop()
        yield path, host, st
        if stat.S_ISDIR(st.st_mode):
            children = []
            for name in tree.listdir(path):
                child = f"{path}/{name}" if path else name
                got = entry(child, host, name)
                if got is not None:
                    children.append((child, got))
            todo.extend(reversed(children))


class Merged:
    """layer_dirs: bottom first, as Image.layer_dirs. Paths given to lookup,
    listdir and walk are resolved inside the merged tree (resolve())."""

    def __init__(self, layer_dirs):
        self.layers = list(reversed(layer_dirs))  # top first

    def _visible_layers(self, rel: str):
        """Top-first layers that may hold rel: in each, rel's parents must be
        real directories (a whiteout, a non-directory, a symlink there hides
        the layers below); an opaque parent hides the layers below it."""
        parts = [p for p in rel.split("/") if p]
        for layer in self.layers:
            path = layer
            state = "ok"
            for part in parts[:-1]:
                path = os.path.join(path, part)
                try:
                    st = os.lstat(path)
                except OSError:
                    state = "absent"
                    break
                if not stat.S_ISDIR(st.st_mode):
                    return
                if opaque(path):
                    state = "opaque"
            if state != "absent":
                yield layer
            if state == "opaque":
                return

    def literal(self, rel: str):
        """(host path, lstat) of rel (parents already resolved), or None."""
        rel = rel.strip("/")
        if not rel:
            return (self.layers[0], os.lstat(self.layers[0])) if self.layers else None
        for layer in self._visible_layers(rel):
            path = os.path.join(layer, rel)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            return None if is_whiteout(st) else (path, st)
        return None

    def resolve(self, rel: str, follow_last: bool = False) -> str:
        return resolve(self, rel, follow_last)

    def lookup(self, rel: str, follow_last: bool = False):
        return self.literal(resolve(self, rel, follow_last))

    def listdir(self, rel: str) -> list:
        """Sorted names in the merged directory rel."""
        rel = resolve(self, rel, follow_last=True)
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
                    (hidden if is_whiteout(est) else seen).add(entry.name)
            if opaque(path):
                break
        return sorted(seen)

    def walk(self, rel: str):
        """(rel path, host path, lstat) of rel and everything below it, parents
        first, names sorted; iterative."""
        return walk(self, rel, lambda child, _host, _name: self.literal(child))
