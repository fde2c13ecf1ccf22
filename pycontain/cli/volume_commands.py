"""`pycontain volume create|ls|inspect|rm|prune`, with docker's output and
exit codes (engine.volumes does the work)."""
import sys

import click

from pycontain.cli.group import cli
from pycontain.errors import PycontainError


@cli.group()
def volume():
    """Manage volumes."""


@volume.command()
@click.option("-d", "--driver", default="local", show_default=True,
              help="Volume driver (only local).")
@click.option("-l", "--label", "labels", multiple=True, help="Set a label KEY=VALUE.")
@click.argument("name", required=False)
def create(driver, labels, name):
    """Create a volume (a random name if NAME is not given); print its name."""
    from pycontain.engine import volumes
    if driver != "local":
        raise PycontainError(f"volume driver {driver!r} not found (only local exists)")
    click.echo(volumes.create(name, volumes.parse_labels(labels))["Name"])


VOLUME_DEFAULT = "table {{.Driver}}\t{{.Name}}"
VOLUME_HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE",
                  "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS",
                  "Size": "SIZE"}


def _row(vol: dict) -> dict:
    """The fields docker's volume templates see."""
    from pycontain.cli.listformat import label_method, labels_text
    return {"Driver": "local", "Labels": labels_text(vol["Labels"]), "Links": "N/A",
            "Mountpoint": vol["Mountpoint"], "Name": vol["Name"], "Scope": "local",
            "Size": "N/A", "Label": label_method(vol["Labels"])}


@volume.command(name="ls")
@click.option("-q", "--quiet", is_flag=True, help="Only print names.")
@click.option("-f", "--filter", "filters", multiple=True,
              help="name=SUBSTRING, label=KEY[=VALUE], dangling=true|false.")
@click.option("--format", "fmt",
              help="table, json (one object per line, as docker prints them), or a Go "
                   "template: 'table {{.Name}}\\t{{.Mountpoint}}'.")
def ls(quiet, filters, fmt):
    """List volumes."""
    from pycontain.cli.listformat import emit
    from pycontain.engine import volumes
    used = volumes.users()
    rows = [v for v in volumes.listing() if volumes.matches(v, list(filters), used)]
    if quiet:
        for vol in rows:
            click.echo(vol["Name"])
    elif fmt == "json":
        emit([_row(vol) for vol in rows], "{{json .}}", "", {})
    else:
        emit([_row(vol) for vol in rows], fmt, VOLUME_DEFAULT, VOLUME_HEADERS)


def _each(names, action, then=None) -> None:
    """action(name) for every name, one line per failure; then(); exit 1 if any failed."""
    failed = False
    for name in names:
        try:
            action(name)
        except PycontainError as exc:
            click.echo(f"pycontain: {exc}", err=True)
            failed = True
    if then is not None:
        then()
    if failed:
        sys.exit(1)


@volume.command()
@click.option("-f", "--format", "fmt", help="A Go template: '{{.Mountpoint}}'.")
@click.argument("names", nargs=-1, required=True)
def inspect(fmt, names):
    """Show volumes as JSON."""
    from pycontain.cli.listformat import print_inspect
    from pycontain.engine import volumes
    found = []
    _each(names, lambda name: found.append(volumes.get(name)),
          lambda: print_inspect(found, fmt, indent=4))  # what it found, as docker


@volume.command()
@click.option("-f", "--force", is_flag=True, help="A missing volume is no error.")
@click.argument("names", nargs=-1, required=True)
def rm(force, names):
    """Remove volumes (never one a container uses)."""
    from pycontain.engine import volumes

    def remove(name):
        volumes.remove(name, force)
        click.echo(name)
    _each(names, remove)


@volume.command()
@click.option("-a", "--all", "all_volumes", is_flag=True,
              help="Remove named volumes too, not only anonymous ones.")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
def prune(all_volumes, force):
    """Remove the anonymous volumes (-a: all volumes) no container uses."""
    from pycontain.cli.aliases import _size
    from pycontain.engine import volumes
    kind = "all local volumes" if all_volumes else "anonymous local volumes"
    if not force and not click.confirm(
            f"WARNING! This will remove {kind} not used by at least one container.\n"
            "Are you sure you want to continue?", default=False):
        return
    removed, freed = volumes.prune(all_volumes)
    if removed:
        click.echo("Deleted Volumes:\n" + "\n".join(removed) + "\n")
    click.echo(f"Total reclaimed space: {_size(freed)}")
