"""docker's management groups (`container ls|rm|...`, `image ls|rm|inspect|...`)
as aliases of the top-level commands, and `system df|prune`. Imported after
every other command module: it only regroups their commands."""
import copy
import sys

import click

from pycontain.cli.group import cli

CONTAINER = {"ls": "ps", "list": "ps", "ps": "ps", "rm": "rm", "remove": "rm",
             "inspect": "inspect", "create": "create", "run": "run", "start": "start",
             "stop": "stop", "restart": "restart", "kill": "kill", "pause": "pause",
             "unpause": "unpause", "wait": "wait", "rename": "rename", "top": "top",
             "attach": "attach", "logs": "logs", "exec": "exec", "cp": "cp", "diff": "diff",
             "commit": "commit", "export": "export", "port": "port", "stats": "stats",
             "update": "update"}
IMAGE = {"ls": "images", "list": "images", "rm": "rmi", "remove": "rmi", "pull": "pull",
         "load": "load", "save": "save", "tag": "tag", "import": "import",
         "history": "history", "inspect": "image-inspect"}


@cli.group()
def container():
    """Manage containers (docker's `container` commands)."""


@container.command(name="prune")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
def container_prune(force):
    """Remove all stopped containers."""
    from pycontain.engine.usage import prune_containers
    if not force and not click.confirm("WARNING! This will remove all stopped containers.\n"
                                       "Are you sure you want to continue?", default=False):
        return
    lines, freed = prune_containers()
    if lines:
        click.echo("Deleted Containers:\n" + "\n".join(lines) + "\n")
    click.echo(f"Total reclaimed space: {_size(freed)}")


def _size(size: int) -> str:
    from pycontain.cli.image_output import _human_size
    return _human_size(size).replace(" ", "")


def _register():
    for group, table in ((container, CONTAINER), (cli.commands["image"], IMAGE)):
        for alias, name in table.items():
            if name in cli.commands and alias not in group.commands:
                command = cli.commands[name]
                if command.hidden:  # hidden at the top level only (image-inspect)
                    command = copy.copy(command)
                    command.hidden = False
                group.add_command(command, alias)


_register()
system = cli.commands["system"]


@system.command()
def df():
    """Show the store's disk usage."""
    from pycontain.engine.usage import disk_usage
    line = "{:<16}{:<8}{:<8}{:<12}{}"
    click.echo(line.format("TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"))
    for kind, total, active, size, reclaim in disk_usage():
        share = f" ({reclaim * 100 // size}%)" if size else ""
        click.echo(line.format(kind, total, active, _size(size), _size(reclaim) + share))


@system.command(name="prune")
@click.option("-a", "--all", "all_images", is_flag=True,
              help="Remove every image no container uses (not only dangling ones).")
@click.option("--volumes", is_flag=True, help="Prune anonymous volumes no container uses too.")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
def system_prune(all_images, volumes, force):
    """Remove stopped containers, unused images (-a) and unused content."""
    from pycontain.engine.usage import prune
    what = ["all stopped containers",
            "all images without at least one container associated to them" if all_images
            else "all dangling images", "all unused image content"]
    what += ["all anonymous volumes not used by at least one container"] if volumes else []
    if not force:
        click.echo("WARNING! This will remove:\n" + "".join(f"  - {w}\n" for w in what))
        if not click.confirm("Are you sure you want to continue?", default=False):
            sys.exit(0)
    report = prune(all_images, volumes)
    if report["containers"]:
        click.echo("Deleted Containers:\n" + "\n".join(report["containers"]) + "\n")
    if report["volumes"]:
        click.echo("Deleted Volumes:\n" + "\n".join(report["volumes"]) + "\n")
    if report["images"]:
        click.echo("Deleted Images:\n" + "\n".join(report["images"]) + "\n")
    click.echo(f"Total reclaimed space: {_size(report['bytes'])}")
