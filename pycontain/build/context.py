"""The build context: a host directory seen through its ignore file.

lookup/listdir/walk take '/'-separated paths relative to the context and
never leave it: a symlink on the way is resolved inside the context (as if
it were '/'), a symlink at the end is returned as one;
excluded entries do not exist, and an excluded directory is not walked
unless an exception could match below it (ignore.Ignore)."""
import os

from pycontain.build.ignore import Ignore
from pycontain.build.merged import resolve, walk


class ContextTree:
    def __init__(self, root: str, ignore: Ignore):
        self.root = os.path.abspath(root)
        self.ignore = ignore

    def _host(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def resolve(self, rel: str, follow_last: bool = False) -> str:
        return resolve(self, rel, follow_last)

    def lookup(self, rel: str, follow_last: bool = False):
        return self.literal(resolve(self, rel, follow_last))

    def literal(self, rel: str):
        """(host path, lstat) of rel, whose parents are real directories."""
        rel = rel.strip("/")
        if rel and self.ignore.excluded(rel):
            if not (self.ignore.exceptions and self._dir_with_exceptions(rel)):
                return None
        host = self._host(rel)
        try:
            return host, os.lstat(host)
        except OSError:
            return None

    def _dir_with_exceptions(self, rel):
        host = self._host(rel)
        return os.path.isdir(host) and not os.path.islink(host) \
            and self.ignore.may_hold_exception(rel)

    def listdir(self, rel: str) -> list:
        rel = resolve(self, rel, follow_last=True)
        names = []
        for name in sorted(os.listdir(self._host(rel))):
            child = f"{rel}/{name}" if rel else name
            if not self.ignore.excluded(child):
                names.append(name)
            elif self.ignore.exceptions and self._dir_with_exceptions(child):
                names.append(name)  # walked for the exceptions below it
        return names

    def walk(self, rel: str):
        """(rel, host, lstat) of rel and everything kept below it, parents first."""
        def entry(_child, host, name):
            path = os.path.join(host, name)
            return path, os.lstat(path)
        return walk(self, rel, entry)
