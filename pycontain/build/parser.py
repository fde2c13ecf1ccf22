"""Dockerfile text -> Instructions, with BuildKit's documented syntax.

Parser directives (`# escape=` and `# syntax=`, accepted and ignored, as is
`# check=`) are read only at the top of the file, before any comment, blank
line or instruction. Lines ending in the escape character (trailing blanks
allowed) continue on the next line; comment and blank lines inside a
continuation are skipped. RUN, COPY and ADD take heredocs (`<<EOF`,
`<<-EOF` strips leading tabs, `<<"EOF"`/`<<'EOF'` is not expanded). Leading
`--name=value` flags are split off for FROM, RUN, COPY, ADD and HEALTHCHECK.
A JSON array of strings is the exec form where the reference allows it.

The Dockerfile is hostile input: its size, line count, instruction count
and heredoc sizes are bounded, and nothing here recurses.
"""
import re

from pycontain import jsonio
from pycontain.errors import PycontainError

MAX_SIZE = 1 << 20          # bytes of Dockerfile
MAX_LINES = 20000
MAX_INSTRUCTIONS = 2000
MAX_HEREDOC = 1 << 19       # bytes in one instruction's heredocs

INSTRUCTIONS = frozenset((
    "from", "run", "cmd", "label", "maintainer", "expose", "env", "add", "copy",
    "entrypoint", "volume", "user", "workdir", "arg", "onbuild", "stopsignal",
    "healthcheck", "shell"))
FLAGGED = frozenset(("from", "run", "copy", "add", "healthcheck"))
JSON_FORMS = frozenset(("run", "cmd", "entrypoint", "shell", "copy", "add", "volume"))
HEREDOC_FORMS = frozenset(("run", "copy", "add"))

_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$")
HEREDOC = re.compile(r"<<(-?)(?:\"([^\"\s]+)\"|'([^'\s]+)'|([A-Za-z_][A-Za-z0-9_]*))")
_FLAG = re.compile(r"--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?")
_BLANKS = re.compile(r"\s*")


class DockerfileError(PycontainError):
    """A syntax error: 'NAME:LINE: problem', exit code 125."""

    def __init__(self, name: str, line: int, problem: str):
        super().__init__(f"{name}:{line}: {problem}" if line else f"{name}: {problem}")
        self.line = line


class Heredoc:
    __slots__ = ("name", "content", "expand")

    def __init__(self, name, content, expand):
        self.name, self.content, self.expand = name, content, expand


class Instruction:
    """One instruction. cmd: lower-case keyword; args: the text after the
    flags; flags: [(name, value)]; exec_form: the JSON array or None."""
    __slots__ = ("cmd", "args", "flags", "exec_form", "heredocs", "line", "original")

    def __init__(self, cmd, args, flags, exec_form, heredocs, line, original):
        self.cmd, self.args, self.flags, self.exec_form = cmd, args, flags, exec_form
        self.heredocs, self.line, self.original = heredocs, line, original

    def __repr__(self):
        return f"Instruction({self.cmd.upper()} {self.args!r}, line {self.line})"


class Dockerfile:
    __slots__ = ("name", "escape", "instructions")

    def __init__(self, name, escape, instructions):
        self.name, self.escape, self.instructions = name, escape, instructions

    def error(self, line: int, problem: str) -> DockerfileError:
        return DockerfileError(self.name, line, problem)


def _directives(lines, name):
    """{directive: value} from the top of the file; stops at the first other line."""
    found = {}
    for number, line in enumerate(lines, 1):
        match = _DIRECTIVE.match(line.strip())
        if not match:
            break
        key = match.group(1).lower()
        if key not in ("escape", "syntax", "check"):
            break
        if key in found:
            raise DockerfileError(name, number, f"only one {key} parser directive can be used")
        found[key] = match.group(2)
    escape = found.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(name, 1, f"invalid escape token {escape!r} (want \\ or `)")
    return found, escape


def split_flags(text: str):
    """Leading `--name[=value]` words -> ([(name, value)], rest)."""
    flags = []
    pos = 0  # an index, not a shrinking copy: linear in the line's length
    while text.startswith("--", pos):
        end = text.find(" ", pos)
        end = len(text) if end < 0 else end
        match = _FLAG.fullmatch(text[pos:end].rstrip())
        if not match:
            break
        flags.append((match.group(1).lower(), match.group(2)))
        pos = _BLANKS.match(text, end).end()
    return flags, text[pos:]


def _exec_form(args: str):
    if not args.startswith("["):
        return None
    try:
        value = jsonio.parse(args, "the exec form")
    except PycontainError:  # not JSON (or nested too deeply): the shell form
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


class _Lines:
    def __init__(self, lines):
        self.lines = lines
        self.pos = 0

    def next(self):
        line = self.lines[self.pos]
        self.pos += 1
        return line

    def more(self):
        return self.pos < len(self.lines)


def _heredocs(args: str, source: _Lines, name: str, line: int) -> list:
    docs = []
    total = 0
    for match in HEREDOC.finditer(args):
        strip_tabs = bool(match.group(1))
        word = match.group(2) or match.group(3) or match.group(4)
        quoted = match.group(4) is None
        body = []
        while True:
            if not source.more():
                raise DockerfileError(name, line, f"unterminated heredoc {word}")
            text = source.next()
            if strip_tabs:
                text = text.lstrip("\t")
            if text == word:
                break
            body.append(text)
            total += len(text) + 1
            if total > MAX_HEREDOC:
                raise DockerfileError(name, line, f"heredoc larger than {MAX_HEREDOC} bytes")
        docs.append(Heredoc(word, "".join(b + "\n" for b in body), not quoted))
    return docs


def parse(text: str, name: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text; DockerfileError on a syntax error."""
    if len(text) > MAX_SIZE:
        raise DockerfileError(name, 0, f"larger than {MAX_SIZE} bytes")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    if len(lines) > MAX_LINES:
        raise DockerfileError(name, 0, f"more than {MAX_LINES} lines")
    _, escape = _directives(lines, name)
    source = _Lines(lines)
    instructions = []
    while source.more():
        start = source.pos + 1
        line = source.next()
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = []
        while True:
            body = line.rstrip()
            if not body.endswith(escape):
                parts.append(line)
                break
            parts.append(body[:-1])
            line = None
            while source.more():  # comment and blank lines inside a continuation
                candidate = source.next()
                if candidate.strip() and not candidate.strip().startswith("#"):
                    line = candidate
                    break
            if line is None:
                break
        logical = "".join(parts).strip()
        match = re.match(r"(\S+)\s*(.*)$", logical, re.S)
        keyword, rest = match.group(1), match.group(2).strip()
        cmd = keyword.lower()
        if cmd not in INSTRUCTIONS:
            raise DockerfileError(name, start, f"unknown instruction: {keyword}")
        instructions.append(make_instruction(cmd, rest, start, logical, source, name))
        if len(instructions) > MAX_INSTRUCTIONS:
            raise DockerfileError(name, start, f"more than {MAX_INSTRUCTIONS} instructions")
    return Dockerfile(name, escape, instructions)


def make_instruction(cmd, rest, line, original, source=None, name="Dockerfile"):
    """One Instruction from its keyword and text (also used for ONBUILD triggers)."""
    flags = []
    if cmd in FLAGGED:
        flags, rest = split_flags(rest)
    heredocs = []
    if cmd in HEREDOC_FORMS and source is not None and "<<" in rest:
        heredocs = _heredocs(rest, source, name, line)
    exec_form = _exec_form(rest) if cmd in JSON_FORMS and not heredocs else None
    if cmd == "shell" and exec_form is None:
        raise DockerfileError(name, line, "SHELL requires the arguments as a JSON array")
    return Instruction(cmd, rest, flags, exec_form, heredocs, line, original)
