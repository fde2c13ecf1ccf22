"""`healthcheck run`: one healthcheck of a container now (as podman has it)."""
import sys

import click

from pycontain.cli.group import cli, lookup


@cli.group()
def healthcheck():
    """Run containers' healthchecks."""


@healthcheck.command(name="run")
@click.argument("container")
def run_check(container):
    """Run CONTAINER's healthcheck once and record it; exit 0 if it passed,
    1 (printing the status) if not."""
    from pycontain.engine.healthcheck import probe_now

    passed, status = probe_now(lookup(container))
    if not passed:
        click.echo(status)
        sys.exit(1)
