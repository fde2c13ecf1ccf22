"""The flags of `pycontain run`, declared once.

The table feeds both the click command (help, errors) and the lean parser
that `pycontain run` uses on its hot path, where importing click alone would
cost more than starting a container.
"""
from pycontain.errors import PycontainError
from pycontain.spec import RunOptions

FLAG, VALUE, MULTI = "flag", "value", "multi"
# (option names, RunOptions field, kind, help)
RUN_FLAGS = (
    (("--rm",), "rm", FLAG, "Remove the container when it exits."),
    (("-d", "--detach"), "detach", FLAG, "Run in the background and print the container id."),
    (("-i", "--interactive"), "interactive", FLAG, "Keep stdin open."),
    (("-t", "--tty"), "tty", FLAG, "Allocate a pseudo-terminal."),
    (("--name",), "name", VALUE, "Name of the container."),
    (("-e", "--env"), "env", MULTI, "Set an environment variable (KEY=VALUE or KEY)."),
    (("--env-file",), "env_files", MULTI, "Read environment variables from a file."),
    (("-v", "--volume"), "volumes", MULTI, "Bind mount SRC:DST[:ro|rw]."),
    (("-w", "--workdir"), "workdir", VALUE, "Working directory inside the container."),
    (("-u", "--user"), "user", VALUE, "User: NAME|UID[:GROUP|GID]."),
    (("-h", "--hostname"), "hostname", VALUE, "Container host name."),
    (("--entrypoint",), "entrypoint", VALUE, "Override the image's entrypoint."),
    (("--read-only",), "read_only", FLAG, "Mount the container's root read-only."),
    (("--network", "--net"), "network", VALUE, "Network: none (default) or host."),
    (("--init",), "init", FLAG, "Run a tiny init as PID 1 that reaps zombies and forwards signals."),
)
NETWORKS = ("none", "host")
_BY_NAME = {name: (dest, kind) for names, dest, kind, _ in RUN_FLAGS for name in names}


def make_options(values: dict, image: str, command) -> RunOptions:
    """RunOptions from parsed flag values; validates what the table cannot."""
    opts = RunOptions(image=image, command=list(command),
                      **{k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in values.items() if v is not None})
    if opts.network not in NETWORKS:
        raise PycontainError(f"network {opts.network!r} is not available: use one of "
                             + ", ".join(NETWORKS))
    return opts


def fast_parse(args: list):
    """Parse `run` arguments without click; None if click must handle them
    (help, an unknown or malformed flag) so its errors and help are used."""
    values, i = {}, 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break
        if arg.startswith("--"):
            name, eq, inline = arg.partition("=")
            pairs = [(name, inline if eq else None)]
        else:
            pairs = [("-" + c, None) for c in arg[1:]]
            for j, (name, _) in enumerate(pairs):
                if _BY_NAME.get(name, (None, None))[1] not in (FLAG, None) and j + 1 < len(pairs):
                    pairs = pairs[:j] + [(name, arg[j + 2:])]
                    break
        for name, inline in pairs:
            if name not in _BY_NAME:
                return None
            dest, kind = _BY_NAME[name]
            if kind == FLAG:
                if inline is not None:
                    return None
                values[dest] = True
                continue
            if inline is None:
                i += 1
                if i >= len(args):
                    return None
                inline = args[i]
            if kind == MULTI:
                values.setdefault(dest, []).append(inline)
            else:
                values[dest] = inline
        i += 1
    if i < len(args) and args[i] == "--":
        i += 1
    if i >= len(args):
        return None
    return values, args[i], args[i + 1:]
