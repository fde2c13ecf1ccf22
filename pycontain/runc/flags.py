"""runc's command line: global flags, a command, its flags, then positionals.

A table and a small reader instead of argparse: the runtime starts several
times per container (create, start, state, delete...) and argparse's import
(re, enum, gettext) cost ~9 ms of each start. Flags are `--name=value`,
`--name value` or `-x value`; a boolean flag takes no value; after the
positionals, the rest is the command's (exec's args, ps's options).
"""
from types import SimpleNamespace

from pycontain.runc.state import RuncError

# flag -> (short, kind, default); kind: bool, str, int, list
_CREATE = {"bundle": ("b", "str", "."), "pid-file": ("", "str", None),
           "console-socket": ("", "str", None), "no-pivot": ("", "bool", False),
           "no-new-keyring": ("", "bool", False), "preserve-fds": ("", "int", 0)}
GLOBAL = {"root": ("", "str", None), "log": ("", "str", None),
          "log-format": ("", "str", "text"), "debug": ("", "bool", False),
          "systemd-cgroup": ("", "bool", False), "rootless": ("", "str", "auto"),
          "criu": ("", "str", None), "version": ("v", "bool", False),
          "help": ("h", "bool", False)}
# command -> (flags, positionals: NAME, NAME? optional, NAME* the rest)
COMMANDS = {
    "create": (_CREATE, ["id"]),
    "run": (dict(_CREATE, detach=("d", "bool", False), keep=("", "bool", False),
                 **{"no-subreaper": ("", "bool", False)}), ["id"]),
    "start": ({}, ["id?"]), "state": ({}, ["id?"]), "pause": ({}, ["id?"]),
    "resume": ({}, ["id?"]), "checkpoint": ({}, ["id?"]), "restore": ({}, ["id?"]),
    "events": ({}, ["id?"]), "features": ({}, []),
    "kill": ({"all": ("a", "bool", False)}, ["id", "signal?"]),
    "delete": ({"force": ("f", "bool", False)}, ["id"]),
    "exec": ({"process": ("p", "str", None), "detach": ("d", "bool", False),
              "pid-file": ("", "str", None), "tty": ("t", "bool", False),
              "console-socket": ("", "str", None), "cwd": ("", "str", None),
              "env": ("e", "list", None), "user": ("u", "str", None),
              "additional-gids": ("g", "list", None), "preserve-fds": ("", "int", 0),
              "no-new-privs": ("", "bool", False), "cap": ("c", "list", None),
              "apparmor": ("", "str", None), "process-label": ("", "str", None)},
             ["id", "args*"]),
    "ps": ({"format": ("f", "str", "table")}, ["id", "ps_args*"]),
    "list": ({"format": ("f", "str", "table"), "quiet": ("q", "bool", False)}, []),
    "update": ({"resources": ("r", "str", None),
                **{name: ("", "str", None) for name in (
                    "memory", "memory-swap", "memory-reservation", "kernel-memory",
                    "cpu-shares", "cpu-quota", "cpu-period", "cpu-rt-period",
                    "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "pids-limit",
                    "blkio-weight")}}, ["id"]),
}
CHOICES = {"log-format": ("text", "json"), "rootless": ("auto", "true", "false"),
           "format": ("table", "json")}


def _flags(args: list, i: int, table: dict, out: dict, where: str) -> int:
    """Read flags of table from args[i:] into out; the index of the first other word."""
    shorts = {short: name for name, (short, _, _) in table.items() if short}
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        word = args[i]
        if word == "--":
            return i + 1
        name, eq, value = word.lstrip("-").partition("=")
        name = shorts.get(name, name) if not word.startswith("--") else name
        if name not in table:
            raise RuncError(f"{where}: flag provided but not defined: {word.split('=')[0]}")
        kind = table[name][1]
        i += 1
        if kind == "bool":
            if eq and value not in ("true", "false"):
                raise RuncError(f"{where}: invalid boolean value {value!r} for {word}")
            out[name] = value != "false"
            continue
        if not eq:
            if i >= len(args):
                raise RuncError(f"{where}: flag needs an argument: {word}")
            value, i = args[i], i + 1
        if name in CHOICES and value not in CHOICES[name]:
            raise RuncError(f"{where}: invalid value {value!r} for --{name}")
        if kind == "int":
            if not value.isdigit():
                raise RuncError(f"{where}: invalid value {value!r} for --{name}")
            out[name] = int(value)
        elif kind == "list":
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return i


def _defaults(table: dict) -> dict:
    return {name: ([] if kind == "list" else default)
            for name, (_, kind, default) in table.items()}


def parse(argv: list) -> SimpleNamespace:
    """The command line as attributes (flag names with _ for -), command None if absent."""
    values = _defaults(GLOBAL)
    i = _flags(argv, 0, GLOBAL, values, "pycontain-runc")
    command = argv[i] if i < len(argv) else None
    if command is not None:
        if command not in COMMANDS:
            raise RuncError(f"no such command: {command}")
        table, positionals = COMMANDS[command]
        values.update(_defaults(table))
        i = _flags(argv, i + 1, table, values, command)
        for name in positionals:
            if name.endswith("*"):
                values[name[:-1]] = argv[i:]
                i = len(argv)
            elif i < len(argv):
                i = _flags(argv, i, table, values, command) if argv[i].startswith("--") else i
                values[name.rstrip("?")] = argv[i] if i < len(argv) else None
                i += 1
            else:
                values[name.rstrip("?")] = None
        if i < len(argv):
            i = _flags(argv, i, table, values, command)  # flags after the id, as runc allows
        if i < len(argv):
            raise RuncError(f"{command}: unexpected arguments: {' '.join(argv[i:])}")
    values = {name.replace("-", "_"): value for name, value in values.items()}
    return SimpleNamespace(command=command, **values)
