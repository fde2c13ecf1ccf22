"""--format for listing commands, as docker's CLI does it: `table` (the
command's default columns), `table TEMPLATE` (a header row from the
fields' names, columns sized to their content), or a Go template
(cli.gotemplate) printed once per row; `\\t` and `\\n` written as such in
the template become a tab and a newline."""
import click

from pycontain.cli.gotemplate import Template

MIN_WIDTH, PADDING = 10, 3  # docker's tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)


def split_format(fmt: str) -> tuple:
    """(is a table, template text)."""
    is_table = fmt.startswith("table")
    text = fmt[len("table"):] if is_table else fmt
    text = text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    return is_table, text


def tabulate(lines: list) -> list:
    """Go's tabwriter: every cell ended by a tab is padded to its column's
    widest (plus PADDING, at least MIN_WIDTH); the last cell is not."""
    rows = [line.split("\t") for line in lines]
    widths = {}
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths.get(i, MIN_WIDTH), len(cell) + PADDING)
    return ["".join(cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])) + cells[-1]
            for cells in rows]  # trailing blanks kept, as docker's


def render(rows: list, fmt: str, default: str, headers: dict) -> list:
    """The output lines of rows (dicts of docker's field names) for --format
    fmt ("table" or None: default, itself "table ...")."""
    is_table, text = split_format(default if fmt in (None, "", "table") else fmt)
    template = Template(text)
    lines = []
    if is_table:
        header = dict(headers)
        header.setdefault("Label", lambda key: "LABEL")
        lines.append(Template(text, strict=False).render(header))
    for row in rows:
        lines.append(template.render(row))
    if not is_table:
        return lines
    out = []
    for line in lines:
        out += line.split("\n")
    return tabulate(out)


def emit(rows: list, fmt: str, default: str, headers: dict) -> None:
    for line in render(rows, fmt, default, headers):
        click.echo(line)


def labels_text(labels: dict) -> str:
    """docker's LABELS column: k=v,k2=v2."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))


def label_method(labels: dict):
    """The rows' {{.Label "key"}}."""
    return lambda key: (labels or {}).get(key, "")


def print_inspect(objects: list, fmt: str | None, indent: int = 2) -> None:
    """inspect: a JSON array, or -f TEMPLATE once per object (an unknown
    field prints <no value>, as docker's inspect does on its JSON)."""
    import json
    if fmt in (None, "", "json"):
        click.echo(json.dumps(objects, indent=indent))
        return
    template = Template(split_format(fmt)[1], strict=False)
    for obj in objects:
        click.echo(template.render(obj))
