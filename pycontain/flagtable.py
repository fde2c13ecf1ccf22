"""A lean parser for the flags of the commands on the hot path (`run`, `fn exec`):
importing click alone costs more than starting a container."""

FLAG, VALUE, MULTI = "flag", "value", "multi"


def parse(args: list, by_name: dict):
    """(values, first positional, the rest) from a command's arguments, without
    click; None if click must handle them (help, an unknown or malformed flag)
    so its errors and help are used. by_name: {flag name: (dest, kind)}."""
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
                if by_name.get(name, (None, None))[1] not in (FLAG, None) and j + 1 < len(pairs):
                    pairs = pairs[:j] + [(name, arg[j + 2:])]
                    break
        for name, inline in pairs:
            if name not in by_name:
                return None
            dest, kind = by_name[name]
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
