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
@click.option("--format", "fmt", help="table, json, or a Go template: 'table {{.Name}}'.")
@click.option("-f", "--filter", "filters", multiple=True, help="name=, id=, driver=.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate ids.")
@click.option("-q", "--quiet", is_flag=True, help="Only print ids.")
def network_ls(fmt, filters, no_trunc, quiet):
    """List networks."""
    from pycontain.cli import filters as filtering, listformat
    from pycontain.net import api
    from pycontain.timefmt import iso
    wanted = filtering.parse(filters, ("name", "id", "driver"))
    rows = [r for r in api.listing()
            if all(any(r[_NET_KEYS[k]].startswith(v) if k == "id" else v in r[_NET_KEYS[k]]
                       for v in values) for k, values in wanted.items())]
    if fmt == "json":
        click.echo(json.dumps([dict(r, Created=iso(r["Created"])) for r in rows], indent=1))
        return
    docker_rows = [{"ID": r["Id"] if no_trunc else r["Id"][:12], "Name": r["Name"],
                    "Driver": r["Driver"], "Scope": "local", "IPv6": "false",
                    "Internal": "false", "Subnet": r["Subnet"], "Labels": "",
                    "Label": listformat.label_method({}), "CreatedAt": iso(r["Created"])}
                   for r in rows]
    if quiet:
        for row in docker_rows:
            click.echo(row["ID"])
        return
    listformat.emit(docker_rows, fmt, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                    {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
                     "IPv6": "IPV6", "Internal": "INTERNAL", "Subnet": "SUBNET",
                     "Labels": "LABELS", "CreatedAt": "CREATED AT"})


_NET_KEYS = {"name": "Name", "id": "Id", "driver": "Driver"}


@network.command(name="inspect")
@click.option("-f", "--format", "fmt", help="A Go template: '{{.Subnet}}'.")
@click.argument("names", nargs=-1, required=True)
def network_inspect(fmt, names):
    """Show networks and their containers as JSON."""
    from pycontain.cli.listformat import print_inspect
    from pycontain.net import api
    print_inspect([api.inspect(n) for n in names], fmt)


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
