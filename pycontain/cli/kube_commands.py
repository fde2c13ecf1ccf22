"""`pycontain kube play|down|ps`: parse, call pycontain.kube.play, format."""
import json
import sys

import click

from pycontain.cli.group import cli


@cli.group()
def kube():
    """Run Kubernetes Pods, Deployments, Services, ConfigMaps and Secrets."""


@kube.command(name="play")
@click.option("--replace", is_flag=True,
              help="Replace what runs: Deployments by their strategy (RollingUpdate: no "
                   "failed request), Pods removed and started again, Services updated.")
@click.option("--publish-all", is_flag=True,
              help="Publish every containerPort on the same host port (hostPort always is).")
@click.option("--network", default="kube", show_default=True,
              help="The bridge network of the pods (created if missing).")
@click.argument("files", nargs=-1, required=True)
def kube_play(replace, publish_all, network, files):
    """Start the objects of Kubernetes YAML FILES."""
    from pycontain.kube.play import play
    from pycontain.net.config import validate_name
    started, services, warnings = play(list(files), replace, validate_name(network),
                                       publish_all)
    for line in warnings:
        print(f"pycontain: warning: {line}", file=sys.stderr)
    for name in services:
        click.echo(f"service/{name}")
    for name in started:
        click.echo(f"pod/{name}")


@kube.command(name="down")
@click.option("--volumes", is_flag=True,
              help="Remove the files' PersistentVolumeClaims and their data too.")
@click.argument("files", nargs=-1, required=True)
def kube_down(volumes, files):
    """Remove what `kube play FILES` started: pods, services, rules, network."""
    from pycontain.kube.play import down
    for name in down(list(files), volumes):
        click.echo(name)


@kube.command(name="ps")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def kube_ps(fmt):
    """List Deployments (ready/desired), pods (ready, restarts), Services with
    their ready endpoints, PersistentVolumeClaims."""
    from pycontain.kube.play import status
    found = status()
    if fmt == "json":
        click.echo(json.dumps(found, indent=1))
        return
    for d in found["deployments"]:
        click.echo(f"deployment/{d['name']}  {d['ready']}/{d['desired']} ready")
    line = "{:<30}{:<8}{:<10}{:<16}{}"
    click.echo(line.format("POD", "READY", "RESTARTS", "IP", "CONTAINERS"))
    for p in found["pods"]:
        click.echo(line.format(p["name"], "yes" if p["ready"] else "no", p["restarts"],
                               p["ip"], ",".join(p["containers"])))
    line = "{:<30}{:<14}{:<16}{:<20}{}"
    click.echo(line.format("SERVICE", "TYPE", "CLUSTER-IP", "PORTS", "ENDPOINTS"))
    for s in found["services"]:
        ports = ",".join(f"{p['port']}{':' + str(p['nodePort']) if p.get('nodePort') else ''}"
                         f"/{p['protocol']}" for p in s["ports"])
        click.echo(line.format(s["name"], s["type"], s["clusterIP"], ports,
                               ",".join(s["endpoints"]) or "<none>"))
    for c in found["claims"]:
        click.echo(f"persistentvolumeclaim/{c['name']}  {c['path']}")


kube.add_command(kube_ps, name="status")
