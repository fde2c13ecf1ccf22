"""`pycontain build` (images from a Dockerfile) and `pycontain builder prune`."""
import os
import sys

import click

from pycontain.cli.group import cli
from pycontain.cli.image_output import store as _store
from pycontain.errors import PycontainError


def _build_args(items) -> dict:
    from pycontain.engine.spec import assign
    return assign(items, "invalid --build-arg {!r} (want KEY=VALUE)")


def _secrets(items) -> dict:
    found = {}
    for item in items:
        fields = dict(part.partition("=")[::2] for part in item.split(","))
        ident, src = fields.get("id"), fields.get("src") or fields.get("source")
        if not ident or not src or set(fields) - {"id", "src", "source", "type"}:
            raise PycontainError(f"invalid --secret {item!r} (want id=ID,src=PATH)")
        if not os.path.isfile(src):
            raise PycontainError(f"--secret {ident}: {src} is not a file")
        found[ident] = os.path.abspath(src)
    return found


def _epoch(build_args: dict):
    text = build_args.get("SOURCE_DATE_EPOCH", os.environ.get("SOURCE_DATE_EPOCH"))
    if text is None or text == "":
        return None
    if not text.isdigit():
        raise PycontainError(f"SOURCE_DATE_EPOCH must be whole seconds, not {text!r}")
    return int(text)


@cli.command()
@click.option("-t", "--tag", "tags", multiple=True, help="Name the image NAME[:TAG] (repeatable).")
@click.option("-f", "--file", "dockerfile", help="The Dockerfile (default CONTEXT/Dockerfile).")
@click.option("--build-arg", "build_args", multiple=True, help="KEY=VALUE for an ARG.")
@click.option("--target", help="Build up to this stage.")
@click.option("--secret", "secrets", multiple=True,
              help="id=ID,src=PATH: a file for RUN --mount=type=secret (never in a layer).")
@click.option("--no-cache", is_flag=True, help="Rebuild every step.")
@click.option("--network", type=click.Choice(["bridge", "host", "none"]), default="bridge",
              show_default=True,
              help="RUN steps' network: bridge (own namespace, outbound NAT, as docker build), "
                   "host, or none (loopback only).")
@click.option("--platform", help="Only the host's platform (linux/amd64) is supported.")
@click.option("--rewrite-timestamp", is_flag=True,
              help="Clamp file mtimes in new layers to SOURCE_DATE_EPOCH.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image id.")
@click.argument("context", type=click.Path(file_okay=False))
def build(tags, dockerfile, build_args, target, secrets, no_cache, network, platform,
          rewrite_timestamp, quiet, context):
    """Build an image from a Dockerfile."""
    from pycontain.build.api import build as run_build
    from pycontain.build.builder import BuildOptions
    from pycontain.image.pull import parse_platform

    if platform and parse_platform(platform)[:2] != parse_platform(None)[:2]:
        raise PycontainError(f"--platform {platform}: only the host's platform "
                             f"({'/'.join(parse_platform(None)[:2])}) can be built")
    args = _build_args(build_args)
    epoch = _epoch(args)
    if rewrite_timestamp and epoch is None:
        raise PycontainError("--rewrite-timestamp needs SOURCE_DATE_EPOCH")
    opts = BuildOptions(context=context, dockerfile=dockerfile, tags=list(tags),
                        build_args=args, target=target, no_cache=no_cache, network=network,
                        platform="/".join(parse_platform(platform)[:2]), quiet=quiet,
                        rewrite_timestamp=rewrite_timestamp, epoch=epoch,
                        secrets=_secrets(secrets))
    try:
        image = run_build(_store(), opts, None if quiet else sys.stdout)
    except KeyboardInterrupt:
        raise PycontainError("build interrupted", 130) from None
    hex_id = image.id.partition(":")[2]
    if not quiet:
        for tag in tags:
            click.echo(f"COMMIT {tag}")
    click.echo(hex_id)


@cli.group()
def builder():
    """Manage the build cache."""


@builder.command("prune")
def builder_prune():
    """Remove every build cache entry (its layers go with the next image prune)."""
    from pycontain.build.cache import prune
    click.echo(f"removed {prune(_store())} build cache entries")
