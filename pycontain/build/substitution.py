"""Words and variable substitution in Dockerfile arguments (BuildKit's rules).

Outside quotes the escape character takes the next character literally and
blanks separate words; in '...' everything is literal; in "..." the escape
character escapes only `"`, `$` and itself. `$NAME`, `${NAME}`,
`${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}` and
`${NAME:?message}` expand (the word may hold expansions itself, nested at
most MAX_DEPTH deep); a value expanded outside quotes is split into words
when words are wanted, as the reference's `EXPOSE $PORTS` shows. Unknown
variables expand to nothing. Every name looked up is recorded in `used`.
Expansion is bounded as it goes: a word (or heredoc) at MAX_RESULT
characters, all that one Lexer expands at MAX_TOTAL, a split at MAX_WORDS.
"""
from pycontain.errors import PycontainError

MAX_DEPTH = 16
MAX_RESULT = 1 << 20
MAX_TOTAL = 8 << 20
MAX_WORDS = 1 << 16


class SubstitutionError(PycontainError):
    pass


class _Text(list):
    """Pieces of expanded text, their length kept as a running total (summing
    them at every character made a long word quadratic)."""

    def __init__(self, lexer):
        super().__init__()
        self.lexer, self.size = lexer, 0

    def append(self, piece):
        self.size += len(piece)
        if self.size > MAX_RESULT:
            raise SubstitutionError("a word or heredoc expands to more than 1 MiB")
        self.lexer.spend(len(piece))
        super().append(piece)


def _bound(words: list) -> None:
    if len(words) > MAX_WORDS:
        raise SubstitutionError(f"more than {MAX_WORDS} words")


def _name_chars(c):
    return c.isalnum() or c == "_"


class Lexer:
    """Expands against env (a dict); escape is the Dockerfile's escape token."""

    def __init__(self, env: dict, escape: str = "\\"):
        self.env = env
        self.escape = escape
        self.used = set()
        self.left = MAX_TOTAL  # characters this lexer may still expand

    # -- public ---------------------------------------------------------------
    def word(self, text: str) -> str:
        """One word: quotes removed, variables expanded, nothing split."""
        return "".join(w for w, _ in self._scan(text, split=False)[:1]) if text else ""

    def words(self, text: str) -> list:
        """Blank-separated words, quotes removed, variables expanded."""
        return [w for w, _ in self._scan(text, split=True)]

    def expand_plain(self, text: str) -> str:
        """Expand variables only (heredoc bodies): quotes are kept as they are."""
        out = _Text(self)
        self._copy(text, 0, out, None, ("$", self.escape))
        return "".join(out)

    def spend(self, n: int) -> None:
        """Count n more characters expanded against MAX_TOTAL."""
        self.left -= n
        if self.left < 0:
            raise SubstitutionError(f"the expansions add up to more than {MAX_TOTAL >> 20} MiB")

    # -- scanner --------------------------------------------------------------
    def _scan(self, text: str, split: bool) -> list:
        words = []          # [(word, quoted)]
        cur = _Text(self)
        quoted = False
        started = False
        i, n = 0, len(text)
        esc = self.escape
        while i < n:
            c = text[i]
            if split and c in " \t\r\n":
                if started:
                    words.append(("".join(cur), quoted))
                    _bound(words)
                    cur, quoted, started = _Text(self), False, False
                i += 1
                continue
            started = True
            if c == esc:
                quoted = True
                if i + 1 < n:
                    cur.append(text[i + 1])
                i += 2
            elif c == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise SubstitutionError(f"unterminated single quote in {text!r}")
                cur.append(text[i + 1:end])
                quoted = True
                i = end + 1
            elif c == '"':
                i = self._double(text, i + 1, cur)
                quoted = True
            elif c == "$":
                value, i = self._dollar(text, i, 0)
                if split and any(ch in value for ch in " \t\n"):
                    pieces = value.split()
                    if value[:1].isspace() and started and cur:
                        words.append(("".join(cur), quoted))
                        cur = _Text(self)
                    if len(pieces) > 1:  # the first ends cur, the middle ones are words
                        cur.append(pieces[0])
                        words.append(("".join(cur), quoted))
                        self.spend(sum(map(len, pieces[1:-1])))
                        words += [(piece, quoted) for piece in pieces[1:-1]]
                        _bound(words)
                        cur = _Text(self)
                    if pieces:
                        cur.append(pieces[-1])
                    if value[-1:].isspace() or not pieces:
                        if cur:
                            words.append(("".join(cur), quoted))
                        cur, started = _Text(self), False
                else:
                    cur.append(value)
            else:
                cur.append(c)
                i += 1
        if started:
            words.append(("".join(cur), quoted))
        if not split and not words:
            words = [("", False)]
        return words

    def _double(self, text, i, cur):
        return self._copy(text, i, cur, '"', ('"', "$", self.escape))

    def _copy(self, text, i, cur, stop, escapable) -> int:
        """Append text[i:] to cur up to the character stop (None: the end),
        the escape character taking one of `escapable` literally and `$...`
        expanded; the index after stop."""
        esc = self.escape
        n = len(text)
        while i < n:
            c = text[i]
            if c == stop:
                return i + 1
            if c == esc and i + 1 < n and text[i + 1] in escapable:
                cur.append(text[i + 1])
                i += 2
            elif c == "$":
                value, i = self._dollar(text, i, 0)
                cur.append(value)
            else:
                cur.append(c)
                i += 1
        if stop is not None:
            raise SubstitutionError(f"unterminated double quote in {text!r}")
        return n

    def _dollar(self, text, i, depth):
        """Expand the `$...` at text[i]; (value, index after it)."""
        if depth > MAX_DEPTH:
            raise SubstitutionError(f"substitutions nested deeper than {MAX_DEPTH}")
        n = len(text)
        j = i + 1
        if j >= n:
            return "$", j
        if text[j] == "{":
            return self._braced(text, j + 1, depth)
        k = j
        while k < n and _name_chars(text[k]):
            k += 1
        if k == j:
            return "$", j
        return self._lookup(text[j:k]) or "", k

    def _lookup(self, name):
        self.used.add(name)
        return self.env.get(name)

    def _braced(self, text, j, depth):
        n = len(text)
        k = j
        while k < n and _name_chars(text[k]):
            k += 1
        name = text[j:k]
        if not name or k >= n:
            raise SubstitutionError(f"bad substitution in {text!r}")
        if text[k] == "}":
            return self._lookup(name) or "", k + 1
        op = text[k]
        colon = op == ":"
        if colon:
            k += 1
            op = text[k] if k < n else ""
        if op not in ("-", "+", "?"):
            raise SubstitutionError(f"unsupported modifier in {text!r}")
        word, end = self._modifier_word(text, k + 1, depth)
        value = self._lookup(name)
        present = value is not None and (value != "" or not colon)
        if op == "-":
            return (value if present else word), end
        if op == "+":
            return (word if present else ""), end
        if not present:
            raise SubstitutionError(f"{name}: {word or 'is not allowed to be unset'}")
        return value, end

    def _modifier_word(self, text, i, depth):
        """The word of ${NAME:-word} up to its closing brace, expanded."""
        out = _Text(self)
        n = len(text)
        esc = self.escape
        while i < n:
            c = text[i]
            if c == "}":
                return "".join(out), i + 1
            if c == esc and i + 1 < n:
                out.append(text[i + 1])
                i += 2
            elif c == "$":
                value, i = self._dollar(text, i, depth + 1)
                out.append(value)
            elif c in "'\"":
                end = text.find(c, i + 1)
                if end < 0:
                    raise SubstitutionError(f"unterminated quote in {text!r}")
                inner = text[i + 1:end]
                out.append(inner if c == "'" else Lexer(self.env, esc)._nested(inner, self))
                i = end + 1
            else:
                out.append(c)
                i += 1
        raise SubstitutionError(f"missing '}}' in {text!r}")

    def _nested(self, text, parent):
        value = self.expand_plain(text)
        parent.used |= self.used
        return value


def split_raw(text: str, escape: str = "\\") -> list:
    """Blank-separated words, quotes and escapes kept (expanded later, one by one)."""
    words, cur, quote, i = [], [], None, 0
    while i < len(text):
        c = text[i]
        if c == escape and quote != "'" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in " \t\r\n":
            if cur:
                words.append("".join(cur))
                cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    if quote:
        raise SubstitutionError(f"unterminated quote in {text!r}")
    if cur:
        words.append("".join(cur))
    return words


def key_values(lexer: Lexer, text: str, what: str) -> list:
    """ENV/LABEL arguments: `K=V ...` pairs (split first, then each value
    expanded as one word), or the legacy `K V` form."""
    raw = split_raw(text, lexer.escape)
    if not raw:
        raise SubstitutionError(f"{what} needs at least one argument")
    if "=" not in raw[0]:
        if len(raw) < 2:
            raise SubstitutionError(f"{what} needs a value: {raw[0]}")
        rest = text.strip().split(None, 1)[1]
        return [(lexer.word(raw[0]), lexer.word(rest))]
    pairs = []
    for word in raw:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise SubstitutionError(f"{what} wants KEY=VALUE, got {word!r}")
        pairs.append((lexer.word(key), lexer.word(value)))
    return pairs
