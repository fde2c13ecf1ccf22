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
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.3g} {unit}" if unit != "B" else f"{size} B"
        size /= 1000
    return ""


def print_images(fmt: str) -> None:
    from pycontain.image import reference

    rows = []
    for image in store().list():
        for name in image.names:
            ref = reference.parse(name)
            rows.append({"Repository": ref.short, "Tag": ref.tag or "<none>", "Name": name,
                         "Id": image.id, "Digest": image.manifest_digest,
                         "Created": image.created, "Size": image.size})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
        return
    line = "{:<36}{:<12}{:<16}{:<28}{}"
    click.echo(line.format("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"))
    for r in rows:
        click.echo(line.format(r["Repository"], r["Tag"], r["Id"].split(":")[-1][:12],
                               r["Created"][:19], _human_size(r["Size"])))


def import_image(source: str, name: str | None) -> None:
    """`oci:DIR[:TAG]`: import an OCI image layout directory; a tarball or
    a directory holding a flat root filesystem: a one-layer image NAME."""
    if not source.startswith("oci:"):
        from pycontain.image.rootfs_import import import_rootfs
        if not name:
            raise PycontainError(f"importing {source} as a root filesystem needs a NAME[:TAG] "
                                 "(for an OCI layout use oci:DIR[:TAG])")
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
