"""`pycontain fn route ...`: HTTP routes to functions (API Gateway's HTTP API),
served by `pycontain fn serve`."""
import json

import click

from pycontain.cli.fn_commands import fn


def _print(obj) -> None:
    click.echo(json.dumps(obj, indent=4))


@fn.group()
def route():
    """HTTP routes to functions ('GET /users/{id}', ANY, {proxy+}, $default)."""


@route.command()
@click.argument("route_key", metavar="'METHOD /PATH'|$default")
@click.option("--function", "function", required=True, help="The function the route calls.")
@click.option("--payload-format", "payload_format", type=click.Choice(["2.0", "1.0"]),
              default="2.0", show_default=True,
              help="The event's shape: 2.0 (HTTP API) or 1.0 (REST API proxy).")
@click.option("--public/--api-key", "public", default=True, show_default=True,
              help="--api-key: requests need an x-api-key header holding one of fn serve's "
              "--api-key-file keys.")
def create(route_key, function, payload_format, public):
    """Route requests matching ROUTE_KEY to a function."""
    from pycontain.fn.server import routes
    _print(routes.create(route_key, function, payload_format, api_key_required=not public))


@route.command(name="list")
def list_():
    """List routes as JSON."""
    from pycontain.fn.server import routes
    _print({"Routes": routes.load()})


@route.command()
@click.argument("route_key", metavar="'METHOD /PATH'|$default")
def delete(route_key):
    """Delete the route ROUTE_KEY."""
    from pycontain.fn.server import routes
    routes.delete(route_key)
