"""The subset of Go's text/template that `--format` takes, as docker's CLI
offers it: fields (`{{.ID}}`, `{{.State.Running}}`), methods of the row
(`{{.Label "k"}}`), docker's functions (json, join, lower, upper, title,
split, truncate, pad, index, len, printf with %s/%d/%v), pipes
(`{{.Names | upper}}`), `if`/`else`/`range`/`end` (nested at most
MAX_DEPTH deep), `{{- -}}` trimming. Parsed strictly, no eval; a template
is at most MAX_TEMPLATE characters. Values print as Go prints them
(true, [a b], map[k:v], <no value>).
"""
import json
import re

from pycontain.errors import PycontainError

MAX_TEMPLATE = 4096
MAX_DEPTH = 8
MAX_OUTPUT = 1 << 20
MAX_STEPS = 1_000_000  # nodes rendered in one render(): nested ranges multiply
_TOKEN = re.compile(r'\s*(?:(?P<field>\.(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?)'
                    r'|"(?P<str>(?:[^"\\]|\\.)*)"|`(?P<raw>[^`]*)`'
                    r'|(?P<num>-?\d+)|(?P<ident>[A-Za-z_]\w*)|(?P<pipe>\|))')
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def _error(message: str):
    return PycontainError(f"template: {message}")


def go_str(value) -> str:
    """A value as Go's fmt %v prints it."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_str(v)}" for k, v in sorted(value.items())
                                 if not callable(v)) + "]"
    return str(value)


def _json(value) -> str:
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if not callable(v)}
    return json.dumps(value, separators=(",", ":"))


def _printf(fmt, *args) -> str:
    out, args = [], list(args)

    def take(match):
        if match.group(0) == "%%":
            return "%"
        if not args:
            return "%!" + match.group(1) + "(MISSING)"
        value = args.pop(0)
        return str(int(value)) if match.group(1) == "d" else go_str(value)
    out.append(re.sub(r"%%|%([sdvq])", take, str(fmt)))
    return "".join(out)


def _width(n) -> int:
    """A padding width, refused before anything is allocated if it could not fit
    in the output."""
    n = int(n)
    if not 0 <= n <= MAX_OUTPUT:
        raise ValueError(f"width {n} out of range")
    return n


def _index(value, *keys):
    for key in keys:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


FUNCS = {
    "json": _json,
    "join": lambda items, sep: str(sep).join(go_str(i) for i in (items or [])),
    "lower": lambda s: go_str(s).lower(),
    "upper": lambda s: go_str(s).upper(),
    "title": lambda s: go_str(s).title(),
    "split": lambda s, sep: go_str(s).split(str(sep)),
    "truncate": lambda s, n: go_str(s)[:int(n)],
    "pad": lambda s, left, right: " " * _width(left) + go_str(s) + " " * _width(right),
    "index": _index,
    "len": lambda v: len(v or ()),
    "printf": _printf,
    "print": lambda *a: "".join(go_str(v) for v in a),
    "println": lambda *a: " ".join(go_str(v) for v in a) + "\n",
}


def _tokens(text: str) -> list:
    tokens, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _error(f"unexpected {text[pos:].strip()[:20]!r} in {{{{{text}}}}}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), value)
            kind = "lit"
        elif kind == "raw":
            kind = "lit"
        elif kind == "num":
            kind, value = "lit", int(value)
        elif kind == "ident" and value in ("true", "false"):
            kind, value = "lit", value == "true"
        tokens.append((kind, value))
        pos = match.end()
    return tokens


def _pipeline(text: str) -> list:
    """[[token, ...] per command]: the pipeline of one action."""
    commands, current = [], []
    for token in _tokens(text):
        if token[0] == "pipe":
            if not current:
                raise _error(f"missing command before | in {{{{{text}}}}}")
            commands.append(current)
            current = []
        else:
            current.append(token)
    if not current:
        raise _error(f"empty command in {{{{{text}}}}}")
    return commands + [current]


def parse(template: str) -> list:
    """The template as nodes: str, ("out", pipeline), ("if", pipeline, then,
    else), ("range", pipeline, body, else)."""
    if len(template) > MAX_TEMPLATE:
        raise _error(f"longer than {MAX_TEMPLATE} characters")
    root = []
    stack = [(None, root)]  # (open block node or None, list being filled)
    parts = re.split(r"({{.*?}})", template, flags=re.S)
    for i, part in enumerate(parts):
        if not (part.startswith("{{") and part.endswith("}}") and len(part) >= 4):
            if "{{" in part:
                raise _error(f"unclosed action in {part[:30]!r}")
            if part:
                stack[-1][1].append(part)
            continue
        body = part[2:-2]
        if body.startswith("- "):
            body = body[2:]
            if stack[-1][1] and isinstance(stack[-1][1][-1], str):
                stack[-1][1][-1] = stack[-1][1][-1].rstrip()
        if body.endswith(" -"):
            body = body[:-2]
            if i + 1 < len(parts):
                parts[i + 1] = parts[i + 1].lstrip()
        words = body.split(None, 1)
        keyword = words[0] if words else ""
        rest = words[1] if len(words) > 1 else ""
        if keyword in ("if", "range"):
            if len(stack) > MAX_DEPTH:
                raise _error(f"blocks nested more than {MAX_DEPTH} deep")
            node = [keyword, _pipeline(rest), [], []]
            stack[-1][1].append(node)
            stack.append((node, node[2]))
        elif keyword == "else" and not rest:
            node = stack[-1][0]
            if node is None or stack[-1][1] is node[3]:
                raise _error("unexpected {{else}}")
            stack[-1] = (node, node[3])
        elif keyword == "end" and not rest:
            if len(stack) == 1:
                raise _error("unexpected {{end}}")
            stack.pop()
        elif body.strip().startswith("/*"):
            continue  # a comment
        else:
            stack[-1][1].append(["out", _pipeline(body)])
    if len(stack) > 1:
        raise _error(f"unclosed {{{{{stack[-1][0][0]}}}}}")
    return root


class Template:
    """A parsed template; strict: an unknown field is an error (docker's
    typed rows), else it prints <no value> (inspect's JSON, as docker's)."""

    def __init__(self, text: str, strict: bool = True):
        self.nodes = parse(text)
        self.strict = strict
        self.size = self.steps = 0

    def render(self, dot) -> str:
        out = []
        self.size = self.steps = 0
        self._render(self.nodes, dot, out)
        return "".join(out)

    def _field(self, dot, path: str):
        value = dot
        for name in filter(None, path.split(".")):
            if isinstance(value, dict) and name in value:
                value = value[name]
            elif isinstance(value, dict) and not self.strict:
                return None
            else:
                raise _error(f"can't evaluate field {name}")
        return value

    def _arg(self, dot, token):
        kind, value = token
        if kind == "lit":
            return value
        if kind == "field":
            return self._field(dot, value)
        if kind == "ident" and value in FUNCS:
            return FUNCS[value]()
        raise _error(f"function {value!r} not defined")

    def _command(self, dot, command: list, piped=()):
        (kind, value), args = command[0], command[1:]
        if kind == "ident" and value not in FUNCS:
            raise _error(f"function {value!r} not defined")
        target = FUNCS[value] if kind == "ident" else self._arg(dot, (kind, value))
        if not callable(target):
            if args or piped:
                raise _error(f"{value} is not a method but has arguments")
            return target
        try:
            return target(*[self._arg(dot, a) for a in args], *piped)
        except (TypeError, ValueError) as exc:
            raise _error(f"error calling {value}: {exc}") from None

    def _evaluate(self, dot, pipeline: list):
        value = self._command(dot, pipeline[0])
        for command in pipeline[1:]:
            value = self._command(dot, command, (value,))
        return value

    def _emit(self, out: list, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise _error(f"output longer than {MAX_OUTPUT} characters")
        out.append(text)

    def _render(self, nodes: list, dot, out: list) -> None:
        """Depth is bounded by parse (MAX_DEPTH), work by MAX_STEPS."""
        for node in nodes:
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise _error(f"more than {MAX_STEPS} steps (nested ranges?)")
            if isinstance(node, str):
                self._emit(out, node)
            elif node[0] == "out":
                self._emit(out, go_str(self._evaluate(dot, node[1])))
            elif node[0] == "if":
                value = self._evaluate(dot, node[1])
                self._render(node[2] if _truthy(value) else node[3], dot, out)
            else:  # range
                items = self._evaluate(dot, node[1]) or []
                if isinstance(items, dict):
                    items = [items[k] for k in sorted(items)]
                for item in items:
                    self.steps += 1  # an empty body costs its iterations too
                    self._render(node[2], item, out)
                if not items:
                    self._render(node[3], dot, out)


def _truthy(value) -> bool:
    return bool(value)
