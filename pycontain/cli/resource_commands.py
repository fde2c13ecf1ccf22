"""`pycontain update` and `pycontain stats`: the resource-limit commands."""
import json
import sys
import time

import click

from pycontain.cli.group import cli, each, lookup
from pycontain.cli.runopts import RUN_FLAGS

UPDATE_FIELDS = ("memory", "memory_swap", "memory_reservation", "cpus", "cpu_shares",
                 "cpuset_cpus", "pids_limit")
STATS_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t" \
    "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
STATS_HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME",
                 "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
                 "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}


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
    each(containers, lambda ctr: update_limits(ctr, opts))


def _targets(refs):
    from pycontain.engine import state
    if refs:
        return [lookup(ref) for ref in refs]
    ctrs = [state.load(cid) for cid in state.all_ids()]
    return [c for c in ctrs if c.status == state.RUNNING]


def _print(rows, fmt: str | None, clear: bool) -> None:
    from pycontain.cli import listformat
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row))
        return
    lines = listformat.render([dict(r, Container=r["ID"]) for r in rows], fmt,
                              STATS_DEFAULT, STATS_HEADERS)
    if clear:
        click.echo("\033[2J\033[H", nl=False)
    for line in lines:
        click.echo(line)


@cli.command()
@click.option("--no-stream", is_flag=True, help="Print one sample and exit.")
@click.option("--format", "fmt", help="table, json, or a Go template: 'table {{.Name}}\\t{{.NetIO}}'.")
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
