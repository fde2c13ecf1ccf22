"""Stages of a Dockerfile: global ARGs (before the first FROM), each FROM
with its instructions, names (`AS name`), and which stages a target needs
(its FROM parent and every `COPY --from`, transitively)."""
from pycontain.build.substitution import Lexer, SubstitutionError, split_raw

PREDEFINED = ("TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
              "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT")
MAX_STAGES = 100


class Stage:
    __slots__ = ("index", "name", "base", "platform", "from_inst", "instructions")

    def __init__(self, index, name, base, platform, from_inst, instructions):
        self.index, self.name, self.base, self.platform = index, name, base, platform
        self.from_inst, self.instructions = from_inst, instructions


def platform_args(platform: str) -> dict:
    os_name, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    values = {}
    for prefix in ("TARGET", "BUILD"):
        values.update({f"{prefix}PLATFORM": platform, f"{prefix}OS": os_name,
                       f"{prefix}ARCH": arch, f"{prefix}VARIANT": variant})
    return values


def global_args(dockerfile, build_args: dict, platform: str) -> dict:
    """Values of the ARGs before the first FROM (plus the predefined ones)."""
    values = platform_args(platform)
    for inst in dockerfile.instructions:
        if inst.cmd == "from":
            break
        if inst.cmd != "arg":
            raise dockerfile.error(inst.line, f"{inst.cmd.upper()} before the first FROM "
                                   "(only ARG may come before it)")
        lex = Lexer(values, dockerfile.escape)
        try:
            words = [w.partition("=") for w in split_raw(inst.args, dockerfile.escape)]
            words = [(name, eq, lex.word(default)) for name, eq, default in words]
        except SubstitutionError as exc:
            raise dockerfile.error(inst.line, str(exc)) from None
        for name, eq, default in words:
            values[name] = build_args.get(name, default if eq else values.get(name))
    return {k: v for k, v in values.items() if v is not None}


def split(dockerfile, gargs: dict) -> list:
    stages = []
    lex = Lexer(gargs, dockerfile.escape)
    for inst in dockerfile.instructions:
        if inst.cmd == "from":
            try:
                words = lex.words(inst.args)
                platform = next((lex.word(v) for k, v in inst.flags if k == "platform"), None)
            except SubstitutionError as exc:
                raise dockerfile.error(inst.line, str(exc)) from None
            if len(words) == 3 and words[1].lower() == "as":
                name = words[2].lower()
            elif len(words) == 1:
                name = None
            else:
                raise dockerfile.error(inst.line, "FROM wants IMAGE [AS NAME]")
            if name and (name.isdigit() or any(s.name == name for s in stages)):
                raise dockerfile.error(inst.line, f"invalid or duplicate stage name {name!r}")
            stages.append(Stage(len(stages), name, words[0], platform, inst, []))
            if len(stages) > MAX_STAGES:
                raise dockerfile.error(inst.line, f"more than {MAX_STAGES} stages")
        elif stages:
            stages[-1].instructions.append(inst)
    if not stages:
        raise dockerfile.error(0, "no FROM instruction")
    return stages


def find(stages, ref: str, before: int):
    """The stage named ref (a name or an index) among the first `before` stages."""
    for stage in stages[:before]:
        if ref.lower() == stage.name or ref == str(stage.index):
            return stage
    return None


def needed(stages, target: str | None, dockerfile, gargs=None) -> list:
    """The stages the target needs, in Dockerfile order; the target is last."""
    if target:
        chosen = next((s for s in stages if s.name == target.lower()), None)
        if chosen is None:
            from pycontain.errors import PycontainError
            raise PycontainError(f"target stage {target!r} could not be found")
    else:
        chosen = stages[-1]
    want, todo = set(), [chosen]
    while todo:
        stage = todo.pop()
        if stage.index in want:
            continue
        want.add(stage.index)
        lex = Lexer(gargs or {}, dockerfile.escape)
        refs = [stage.base] + [lex.word(v) for inst in stage.instructions
                               if inst.cmd in ("copy", "add")
                               for k, v in inst.flags if k == "from" and v]
        for ref in refs:
            dep = find(stages, ref, stage.index)
            if dep is not None:
                todo.append(dep)
    return [s for s in stages[:chosen.index + 1] if s.index in want]
