"""`cp`: copy files between a container and the host (engine.copy)."""
import click

from pycontain.cli.group import cli, lookup


@cli.command()
@click.option("-a", "--archive", is_flag=True, help="Keep the files' owners (uid/gid).")
@click.argument("source")
@click.argument("destination")
def cp(archive, source, destination):
    """Copy files: cp CONTAINER:SRC DEST|-  or  cp SRC|- CONTAINER:DEST.

    `-` is a tar stream on stdout (from a container) or stdin (into one)."""
    from pycontain.engine.copy import COPY_ERROR, copy_from, copy_into, split_ref
    from pycontain.errors import PycontainError

    src_ctr, src = split_ref(source)
    dest_ctr, dest = split_ref(destination)
    if (src_ctr is None) == (dest_ctr is None):
        raise PycontainError("copying between containers or between host paths is not "
                             "supported: name one side CONTAINER:PATH", COPY_ERROR)
    if src_ctr is not None:
        if not src:
            raise PycontainError("the path in the container must not be empty", COPY_ERROR)
        copy_from(lookup(src_ctr), src, dest, archive)
    else:
        if not dest:
            raise PycontainError("the path in the container must not be empty", COPY_ERROR)
        copy_into(lookup(dest_ctr), src, dest, archive)
