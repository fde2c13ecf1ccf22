"""`pycontain network ...` and `pycontain port`: parse, call pycontain.net.api, format."""
import json

import click

from pycontain.cli.group import cli


@cli.group()
def network():
    """Manage bridge networks."""


@network.command(name="create")
@click.option("--subnet", help="IPv4 subnet in CIDR form (default: a free /24 of 10.89.0.0/16).")
@click.option("--masquerade/--no-masquerade", default=True, show_default=True,
              help="NAT the containers' outbound traffic to the host's addresses.")
@click.argument("name")
def network_create(subnet, masquerade, name):
    """Create a user network; its containers resolve each other by name."""
    from pycontain.net import api
    click.echo(api.create(name, subnet, masquerade)["id"])


@network.command(name="ls")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("-q", "--quiet", is_flag=True, help="Only print names.")
def network_ls(fmt, quiet):
    """List networks."""
    from pycontain.net import api
    rows = api.listing()
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
        return
    if quiet:
        click.echo("\n".join(r["Name"] for r in rows))
        return
    line = "{:<14}{:<22}{:<10}{}"
    click.echo(line.format("NETWORK ID", "NAME", "DRIVER", "SUBNET"))
    for r in rows:
        click.echo(line.format(r["Id"][:12], r["Name"], r["Driver"], r["Subnet"]))


@network.command(name="inspect")
@click.argument("names", nargs=-1, required=True)
def network_inspect(names):
    """Show networks and their containers as JSON."""
    from pycontain.net import api
    click.echo(json.dumps([api.inspect(n) for n in names], indent=2))


@network.command(name="rm")
@click.argument("names", nargs=-1, required=True)
def network_rm(names):
    """Remove networks no container uses."""
    from pycontain.net import api
    for name in names:
        api.remove(name)
        click.echo(name)


@network.command(name="connect")
@click.argument("name")
@click.argument("container")
def network_connect(name, container):
    """Connect a running container to a network (one more interface)."""
    from pycontain.net import api
    api.connect(name, container)


@network.command(name="disconnect")
@click.argument("name")
@click.argument("container")
def network_disconnect(name, container):
    """Disconnect a running container from a network."""
    from pycontain.net import api
    api.disconnect(name, container)


@cli.command()
@click.argument("container")
@click.argument("private_port", required=False)
def port(container, private_port):
    """List a container's published ports (or the mapping of one: PORT[/PROTO])."""
    from pycontain.net import api
    from pycontain.net.ports import format_port
    for p in api.published(container):
        if private_port in (None, str(p["container_port"]), f"{p['container_port']}/{p['proto']}"):
            click.echo(format_port(p) if private_port is None
                       else f"{p['host_ip'] or '0.0.0.0'}:{p['host_port']}")
