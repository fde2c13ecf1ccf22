"""The instructions that only change the image config (no layer): ENV,
LABEL, MAINTAINER, USER, EXPOSE, VOLUME, CMD, ENTRYPOINT, STOPSIGNAL,
HEALTHCHECK, ONBUILD, SHELL, ARG, and the CMD/ENTRYPOINT rule that an
ENTRYPOINT set in a stage resets the CMD it inherited (unless this stage
set CMD before it). Each handler takes the stage state, the instruction
and a substitution Lexer over the stage's environment."""
import re

from pycontain.build.substitution import key_values, split_raw
from pycontain.errors import PycontainError

_NOT_IN_ONBUILD = ("onbuild", "from", "maintainer")


def command(state, inst) -> list:
    """The exec form, or the shell form run by the stage's SHELL."""
    if inst.exec_form is not None:
        return list(inst.exec_form)
    return list(state.shell) + [inst.args]


def _env_set(cfg, key, value):
    env = [e for e in cfg.get("Env") or [] if e.partition("=")[0] != key]
    env.append(f"{key}={value}")
    cfg["Env"] = env


def do_env(state, inst, lex):
    for key, value in key_values(lex, inst.args, "ENV"):
        _env_set(state.cfg, key, value)


def do_label(state, inst, lex):
    labels = state.cfg.setdefault("Labels", {}) or {}
    for key, value in key_values(lex, inst.args, "LABEL"):
        labels[key] = value
    state.cfg["Labels"] = labels


def do_maintainer(state, inst, lex):
    state.image["author"] = inst.args


def do_user(state, inst, lex):
    state.cfg["User"] = lex.word(inst.args)


def do_expose(state, inst, lex):
    ports = state.cfg.get("ExposedPorts") or {}
    for word in lex.words(inst.args):
        port, _, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        if not re.fullmatch(r"\d+(-\d+)?", port) or proto not in ("tcp", "udp", "sctp"):
            raise PycontainError(f"invalid port in EXPOSE: {word}")
        ports[f"{port}/{proto}"] = {}
    state.cfg["ExposedPorts"] = ports


def do_volume(state, inst, lex):
    paths = inst.exec_form if inst.exec_form is not None else lex.words(inst.args)
    volumes = state.cfg.get("Volumes") or {}
    for path in paths:
        if not path.strip():
            raise PycontainError("VOLUME specified can not be an empty string")
        volumes[path] = {}
    state.cfg["Volumes"] = volumes


def do_cmd(state, inst, lex):
    state.cfg["Cmd"] = command(state, inst)
    state.cmd_set = True


def do_entrypoint(state, inst, lex):
    state.cfg["Entrypoint"] = command(state, inst)
    if not state.cmd_set:
        state.cfg["Cmd"] = None


def do_stopsignal(state, inst, lex):
    state.cfg["StopSignal"] = lex.word(inst.args)


def do_shell(state, inst, lex):
    if not inst.exec_form:
        raise PycontainError("SHELL requires a non-empty JSON array")
    state.shell = list(inst.exec_form)
    state.cfg["Shell"] = list(inst.exec_form)


def do_onbuild(state, inst, lex):
    keyword = inst.args.split(None, 1)[0].lower() if inst.args.strip() else ""
    if keyword in _NOT_IN_ONBUILD or not keyword:
        raise PycontainError(f"{keyword.upper() or 'an empty'} isn't allowed as an "
                             "ONBUILD trigger")
    state.cfg["OnBuild"] = (state.cfg.get("OnBuild") or []) + [inst.args]


def duration(text: str, what: str) -> int:
    """A Go duration ('30s', '1m30s') in nanoseconds."""
    from pycontain.durations import go_duration
    try:
        return go_duration(text)
    except ValueError:
        raise PycontainError(f"HEALTHCHECK --{what}: invalid duration {text!r}") from None


def do_healthcheck(state, inst, lex):
    from pycontain.build.parser import make_instruction
    words = inst.args.split(None, 1)
    if words and words[0].upper() == "NONE":
        if inst.flags or len(words) > 1:
            raise PycontainError("HEALTHCHECK NONE takes no other arguments")
        state.cfg["Healthcheck"] = {"Test": ["NONE"]}
        return
    if not words or words[0].upper() != "CMD" or len(words) < 2:
        raise PycontainError("HEALTHCHECK wants NONE or CMD COMMAND")
    check = {}
    for name, value in inst.flags:
        key = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
               "start-interval": "StartInterval", "retries": "Retries"}.get(name)
        if key is None or value is None:
            raise PycontainError(f"unknown HEALTHCHECK flag --{name}")
        if key == "Retries":
            if not value.isdigit() or int(value) < 1:
                raise PycontainError(f"HEALTHCHECK --retries must be at least 1: {value}")
            check[key] = int(value)
        else:
            check[key] = duration(value, name)
    cmd = make_instruction("cmd", words[1], inst.line, inst.original)
    test = ["CMD"] + cmd.exec_form if cmd.exec_form is not None else ["CMD-SHELL", words[1]]
    state.cfg["Healthcheck"] = {"Test": test, **check}


def do_arg(state, inst, lex):
    """ARG NAME[=default]...: the build arg's value, else the default."""
    for raw in split_raw(inst.args, lex.escape):
        name, eq, default = raw.partition("=")
        default = lex.word(default)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise PycontainError(f"invalid ARG name {name!r}")
        value = state.build_args.get(name)
        if value is None:
            value = default if eq else state.global_args.get(name)
        state.args[name] = value


HANDLERS = {
    "env": do_env, "label": do_label, "maintainer": do_maintainer, "user": do_user,
    "expose": do_expose, "volume": do_volume, "cmd": do_cmd, "entrypoint": do_entrypoint,
    "stopsignal": do_stopsignal, "shell": do_shell, "onbuild": do_onbuild,
    "healthcheck": do_healthcheck, "arg": do_arg,
}
