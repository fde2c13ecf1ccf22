""".dockerignore patterns with docker's rules.

One pattern a line; blank lines and lines starting with '#' are skipped; a
leading '!' makes an exception; patterns are cleaned (`./a//b/` is `a/b`, a
leading '/' is dropped). `*` matches within one path component, `?` one
character of it, `[...]` a class, `**` any number of components (none
too); a pattern that matches a directory matches everything below it. The
last pattern that matches a path decides. A directory that is excluded is
not walked unless some exception could match below it.
"""
import posixpath
import re

MAX_PATTERNS = 10000
MAX_FILE = 1 << 20


def _clean(pattern: str) -> str:
    cleaned = posixpath.normpath(pattern.strip()).lstrip("/")
    return "" if cleaned == "." else cleaned


def _regex(pattern: str) -> re.Pattern:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):  # `**/`: zero or more directories
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) or
                               pattern.startswith("[^", i) else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    out.append("(?:/.*)?$")  # matches a directory: everything below it too
    return re.compile("".join(out), re.S)


class Ignore:
    def __init__(self, lines=()):
        self.rules = []  # (regex, exception, pattern)
        for line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            exception = text.startswith("!")
            pattern = _clean(text[1:] if exception else text)
            if not pattern:
                continue
            self.rules.append((_regex(pattern), exception, pattern))
            if len(self.rules) > MAX_PATTERNS:
                raise ValueError(f"more than {MAX_PATTERNS} patterns")
        self.exceptions = [p for _, exc, p in self.rules if exc]

    @classmethod
    def from_text(cls, text: str):
        return cls(text.splitlines())

    def excluded(self, rel: str) -> bool:
        """rel (a '/'-separated path in the context) is left out."""
        result = False
        for regex, exception, _ in self.rules:
            if regex.match(rel):
                result = not exception
        return result

    def may_hold_exception(self, rel_dir: str) -> bool:
        """Some exception could match below the excluded directory rel_dir."""
        for pattern in self.exceptions:
            literal = re.split(r"[*?\[\\]", pattern, 1)[0]
            if literal.startswith(rel_dir + "/") or rel_dir.startswith(literal.rstrip("/")) \
                    or not literal:
                return True
        return False


def load(context_dir: str, dockerfile: str) -> Ignore:
    """The ignore file for a build: `<Dockerfile>.dockerignore` next to the
    Dockerfile, else the context's .dockerignore, else its .containerignore."""
    import os
    for path in (dockerfile + ".dockerignore", os.path.join(context_dir, ".dockerignore"),
                 os.path.join(context_dir, ".containerignore")):
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_FILE + 1)
        except (FileNotFoundError, IsADirectoryError):
            continue
        if len(data) > MAX_FILE:
            from pycontain.errors import PycontainError
            raise PycontainError(f"{path} is larger than {MAX_FILE} bytes")
        return Ignore.from_text(data.decode("utf-8", "replace"))
    return Ignore()
