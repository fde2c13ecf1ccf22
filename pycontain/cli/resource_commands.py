"""`pycontain update` and `pycontain stats`: the resource-limit commands."""
import json
import sys
import time

import click

from pycontain.cli.group import cli, lookup
from pycontain.cli.runopts import RUN_FLAGS

UPDATE_FIELDS = ("memory", "memory_swap", "memory_reservation", "cpus", "cpu_shares",
                 "cpuset_cpus", "pids_limit")
STATS_COLUMNS = (("CONTAINER ID", "ID", 14), ("NAME", "Name", 22), ("CPU %", "CPUPerc", 9),
                 ("MEM USAGE / LIMIT", "MemUsage", 22), ("MEM %", "MemPerc", 8),
                 ("NET I/O", "NetIO", 10), ("BLOCK I/O", "BlockIO", 18), ("PIDS", "PIDs", 0))


def _limit_options(func):
    """The run flags that `update` accepts, from the one flag table."""
    for names, dest, _, help_text in reversed(RUN_FLAGS):
        if dest in UPDATE_FIELDS:
            func = click.option(*names, dest, help=help_text)(func)
    return func


@cli.command()
@_limit_options
@click.argument("containers", nargs=-1, required=True)
def update(containers, **values):
    """Change the resource limits of running containers."""
    from pycontain.engine.update import update as update_limits
    from pycontain.engine.spec import RunOptions
    opts = RunOptions(**{k: v for k, v in values.items() if v is not None})
    for ref in containers:
        update_limits(lookup(ref), opts)
        click.echo(ref)


def _targets(refs):
    from pycontain.engine import state
    if refs:
        return [lookup(ref) for ref in refs]
    ctrs = [state.load(cid) for cid in state.all_ids()]
    return [c for c in ctrs if c.status == state.RUNNING]


def _print(rows, fmt: str, clear: bool) -> None:
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row))
        return
    if clear:
        click.echo("\033[2J\033[H", nl=False)
    line = "".join(f"{{:<{w}}}" if w else "{}" for _, _, w in STATS_COLUMNS)
    click.echo(line.format(*(title for title, _, _ in STATS_COLUMNS)))
    for row in rows:
        click.echo(line.format(*(row[key] for _, key, _ in STATS_COLUMNS)))


@cli.command()
@click.option("--no-stream", is_flag=True, help="Print one sample and exit.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.argument("containers", nargs=-1)
def stats(no_stream, fmt, containers):
    """Show containers' CPU, memory, block I/O and pids usage (running ones by default)."""
    from pycontain.engine.stats import rows
    ctrs = _targets(containers)
    sample, previous = rows(ctrs)
    _print(sample, fmt, clear=False)
    try:
        while not no_stream:
            time.sleep(1)
            sample, previous = rows(ctrs, previous=previous)
            _print(sample, fmt, clear=fmt != "json" and sys.stdout.isatty())
    except KeyboardInterrupt:
        sys.exit(0)
