"""`images` and `import`: the store's answers, formatted for people or JSON."""
import json
import os

import click

from pycontain.errors import PycontainError


def store():
    from pycontain import paths
    from pycontain.image.store import ImageStore
    return ImageStore(paths.data_root())


def _human_size(size: int) -> str:
    """docker's units.HumanSize: 2.14MB, 0B."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.3g}{unit}" if unit != "B" else f"{int(size)}B"
        size /= 1000
    return ""


def print_images(fmt: str | None, quiet: bool = False, filter_items=(), no_trunc: bool = False,
                 digests: bool = False) -> None:
    from pycontain.cli import image_list, listformat

    rows = image_list.rows(store(), filter_items)
    if quiet:
        seen = []
        for r in rows:
            short = r["Id"] if no_trunc else r["Id"].split(":")[-1][:12]
            if short not in seen:
                seen.append(short)
        for short in seen:
            click.echo(short)
    elif fmt == "json":
        click.echo(json.dumps([{k: v for k, v in r.items() if not k.startswith("_")}
                               for r in rows], indent=1))
    else:
        default = image_list.DEFAULT_DIGESTS if digests else image_list.DEFAULT
        listformat.emit([image_list.docker_row(r, no_trunc, _human_size) for r in rows],
                        fmt, default, image_list.HEADERS)


def import_image(source: str, name: str | None) -> None:
    """`oci:DIR[:TAG]`: import an OCI image layout directory; a tarball or
    a directory holding a flat root filesystem: a one-layer image NAME."""
    if not source.startswith("oci:"):
        from pycontain.image.rootfs_import import import_rootfs
        if not name:
            raise PycontainError(f"importing {source} as a root filesystem needs a NAME[:TAG] "
                                 "(for an OCI layout use oci:DIR[:TAG])")
        if source == "-":
            from pycontain.cli.archive_io import spooled_stdin
            with spooled_stdin(store(), "rootfs.tar") as spool:
                image = import_rootfs(store(), spool, name)
        else:
            image = import_rootfs(store(), source, name)
        click.echo(f"{image.name} {image.id}")
        return
    directory, tag = source[4:], None
    if ":" in directory and not os.path.isdir(directory):
        directory, _, tag = directory.rpartition(":")
    if not os.path.isdir(directory):
        raise PycontainError(f"no OCI layout directory at {directory}")
    image = store().import_oci_layout(directory, tag, name)
    click.echo(f"{image.name} {image.id}")
