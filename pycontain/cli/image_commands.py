"""Image commands: pull, push, load, save, tag, rmi, image prune, login, logout.

Thin: parse, call pycontain.image, print. Progress goes to stderr, results
to stdout."""
import sys

import click

from pycontain.cli.group import cli
from pycontain.cli.image_output import store as _store
from pycontain.errors import PycontainError

_TLS_HELP = "Require HTTPS with a trusted certificate (false: allow plain HTTP)."


def _tls_option(func):
    return click.option("--tls-verify", type=click.BOOL, default=True, show_default=True,
                        help=_TLS_HELP)(func)


@cli.command()
@click.option("--platform", help="OS/ARCH[/VARIANT] to pick from a multi-platform image.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@_tls_option
@click.argument("reference")
def pull(platform, quiet, tls_verify, reference):
    """Pull an image from a registry."""
    from pycontain.image import progress
    from pycontain.image.pull import pull as pull_image
    try:
        image = pull_image(_store(), reference, platform=platform, tls_verify=tls_verify,
                           progress=progress.for_stream(sys.stderr, quiet))
    except KeyboardInterrupt:
        raise PycontainError("pull interrupted; nothing was recorded", 130) from None
    click.echo(f"{image.name} {image.id}")


@cli.command()
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--chunk-size", metavar="SIZE",
              help="Upload blobs larger than SIZE (e.g. 64m) in chunks of SIZE "
                   "(default: each blob in one request).")
@_tls_option
@click.argument("image")
@click.argument("destination", required=False)
def push(quiet, chunk_size, tls_verify, image, destination):
    """Push IMAGE to a registry: to its own name, or as DESTINATION
    (REGISTRY/NAME[:TAG]). Credentials come from `pycontain login`."""
    from pycontain.image import progress
    from pycontain.image.push import push as push_image
    from pycontain.oci.cgroups.ocispec import parse_bytes
    size = parse_bytes("--chunk-size", chunk_size) if chunk_size else 0
    try:
        done = push_image(_store(), image, destination, tls_verify=tls_verify, chunk_size=size,
                          progress=progress.for_stream(sys.stderr, quiet))
    except KeyboardInterrupt:
        raise PycontainError("push interrupted", 130) from None
    click.echo(f"{done.ref.tag or done.ref.familiar}: digest: {done.digest} size: {done.size}")


@cli.command()
@click.option("-i", "--input", "path", type=click.Path(dir_okay=False),
              help="A docker-archive or oci-archive file (gzip or not); default: stdin.")
@click.option("-q", "--quiet", is_flag=True, help="Accepted, as docker's.")
@click.argument("name", required=False)
def load(path, quiet, name):
    """Load images from a docker save / OCI archive (a file, or stdin)."""
    from pycontain.image.archive_load import load_archive
    store = _store()
    if path is None or path == "-":
        from pycontain.cli.archive_io import spooled_stdin
        with spooled_stdin(store, "image.tar") as spool:
            images = load_archive(store, spool, name)
    else:
        images = load_archive(store, path, name)
    for image in images:
        click.echo(f"Loaded image: {image.name} {image.id}")


@cli.command()
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False),
              help="The archive file to write; default: stdout (not a terminal).")
@click.option("--format", "fmt", type=click.Choice(["docker-archive", "oci-archive"]),
              default="docker-archive", show_default=True)
@click.argument("image")
def save(path, fmt, image):
    """Write IMAGE to an archive file (or to stdout)."""
    from pycontain.image.archive_save import save_archive
    store = _store()
    if path is None or path == "-":
        from pycontain.cli.archive_io import refuse_terminal, spooled_stdout
        refuse_terminal("an image archive")
        with spooled_stdout(store, "image.tar") as spool:
            save_archive(store, image, spool, fmt)
        return
    save_archive(store, image, path, fmt)


@cli.command()
@click.argument("image")
@click.argument("names", nargs=-1, required=True)
def tag(image, names):
    """Give IMAGE more names."""
    store = _store()
    for name in names:
        store.tag(image, name)


@cli.command()
@click.option("-f", "--force", is_flag=True, help="Remove even if containers use it.")
@click.argument("images", nargs=-1, required=True)
def rmi(force, images):
    """Remove images (untag; content no image uses any more is deleted)."""
    from pycontain.image.gc import remove_images
    lines, errors = remove_images(_store(), images, force)
    for line in lines:
        click.echo(line)
    for error in errors[:-1]:
        click.echo(f"pycontain: {error}", err=True)
    if errors:
        raise errors[-1]


@cli.group(name="image")
def image_group():
    """Manage images."""


@image_group.command()
def prune():
    """Delete blobs and unpacked layers that no image or container uses."""
    from pycontain.image.gc import prune as prune_store
    report = prune_store(_store())
    click.echo(f"Deleted {report.blobs} blobs and {report.layers} layers, "
               f"reclaimed {report.bytes} bytes")


@cli.command()
@click.option("-u", "--username", help="User name.")
@click.option("-p", "--password", help="Password (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--token-realm", "token_realms", multiple=True, metavar="HOST[:PORT]",
              help="Trust this token service on another host with the credentials "
                   "(remembered; by default they go only to the registry's own host).")
@_tls_option
@click.argument("registry")
def login(username, password, password_stdin, token_realms, tls_verify, registry):
    """Log in to a registry; credentials are stored mode 0600."""
    from pycontain.image.login import login as do_login
    if password_stdin:
        if password:
            raise PycontainError("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.readline().rstrip("\n")
    if not username:
        username = click.prompt("Username")
    if password is None:
        password = click.prompt("Password", hide_input=True)
    path = do_login(registry, username, password, tls_verify=tls_verify,
                    token_realms=token_realms)
    click.echo(f"Login Succeeded (credentials in {path})")


@cli.command()
@click.option("-a", "--all", "everything", is_flag=True, help="Forget every registry.")
@click.argument("registry", required=False)
def logout(everything, registry):
    """Forget a registry's credentials."""
    from pycontain.image.login import logout as do_logout
    if not everything and not registry:
        raise PycontainError("logout needs a REGISTRY or --all")
    click.echo(do_logout(None if everything else registry))
