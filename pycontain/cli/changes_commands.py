"""Commands on a container's changes and on images' history (diff, commit,
export, history, image inspect): parse, call the library, print as docker does."""
import json
import os
import sys

import click

from pycontain.cli.group import cli, lookup


@cli.command()
@click.argument("container")
def diff(container):
    """List the files a container added (A), changed (C) or deleted (D)."""
    from pycontain.engine.changes import changes
    for kind, path in changes(lookup(container)):
        click.echo(f"{kind} {path}")


@cli.command()
@click.option("-m", "--message", default="", help="Commit message.")
@click.option("-a", "--author", default="", help="Author (e.g. 'Name <mail>').")
@click.option("--pause/--no-pause", "pause", default=True,
              help="Pause the container while committing (default).")
@click.argument("container")
@click.argument("name")
def commit(message, author, pause, container, name):
    """Create image NAME[:TAG] from a container's changes; print its id."""
    from pycontain.engine.changes import commit as commit_container
    from pycontain.engine.events import emit
    image = commit_container(lookup(container), name, message, author, pause)
    emit("commit", image.id, {"name": image.name}, kind="image")
    click.echo(image.id)


@cli.command()
@click.option("-o", "--output", help="Write to this file instead of stdout.")
@click.argument("container")
def export(output, container):
    """Write a container's file system as a tar archive."""
    from pycontain.engine.changes import export as export_container
    from pycontain.fsutil import replacing

    ctr = lookup(container)
    if output is None:
        from pycontain.cli.archive_io import refuse_terminal
        refuse_terminal("a tar archive")
        sys.stdout.flush()
        export_container(ctr, 1)
        return
    with replacing(output) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            export_container(ctr, fd)
        finally:
            try:
                os.close(fd)
            except OSError:
                pass


def _image_and_summary(ref):
    from pycontain.cli.image_output import store
    images = store()
    image = images.resolve(ref)
    summary = next((s for s in images.list() if s.id == image.id), None)
    return images, image, summary


@cli.command()
@click.option("--format", "fmt", help="table, json, or a Go template: '{{.CreatedBy}}'.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate ids and commands.")
@click.option("-q", "--quiet", is_flag=True, help="Only print image ids.")
@click.argument("image")
def history(fmt, no_trunc, quiet, image):
    """Show the history of an image (its layers, newest first)."""
    from pycontain.cli.image_output import _human_size
    images, img, _ = _image_and_summary(image)
    layers = images._load()["layers"]
    diff_ids = list(img.config.get("rootfs", {}).get("diff_ids", []))
    rows = []
    for entry in img.config.get("history") or []:
        empty = entry.get("empty_layer", False)
        size = 0 if empty or not diff_ids else layers.get(diff_ids.pop(0), {}).get("size", 0)
        rows.append({"CreatedAt": entry.get("created", ""), "CreatedBy": entry.get("created_by", ""),
                     "Size": size, "Comment": entry.get("comment", "")})
    rows.reverse()
    for i, row in enumerate(rows):
        row["ID"] = img.id if i == 0 else "<missing>"
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
        return
    if quiet:
        click.echo(img.id.partition(":")[2][:12])
        return
    from pycontain.cli import listformat
    from pycontain.timefmt import ago, parse_rfc3339
    from pycontain.errors import PycontainError

    def since(created: str) -> str:
        try:
            return ago(parse_rfc3339(created) / 1e9)
        except PycontainError:
            return "N/A"

    def short(row) -> str:
        if row["ID"] == "<missing>" or no_trunc:
            return row["ID"]
        return row["ID"].partition(":")[2][:12]

    def by(text: str) -> str:
        return text if no_trunc or len(text) <= 45 else text[:44] + "…"

    listformat.emit([{"ID": short(r), "CreatedSince": since(r["CreatedAt"]),
                      "CreatedAt": r["CreatedAt"], "CreatedBy": by(r["CreatedBy"]),
                      "Size": _human_size(r["Size"]), "Comment": r["Comment"]} for r in rows],
                    fmt, HISTORY_DEFAULT, HISTORY_HEADERS)


HISTORY_DEFAULT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                   "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}


@cli.command(name="image-inspect", hidden=True)  # `image inspect` (cli.aliases)
@click.option("-f", "--format", "fmt", help="A Go template: '{{.Config.Labels}}'.")
@click.argument("images", nargs=-1, required=True)
def image_inspect(fmt, images):
    """Show images' configuration as JSON (`image inspect`)."""
    out = []
    for ref in images:
        store, img, summary = _image_and_summary(ref)
        config = img.config
        out.append({
            "Id": img.id, "RepoTags": summary.names if summary else [img.name],
            "RepoDigests": [], "Created": config.get("created", ""),
            "Author": config.get("author", ""), "Config": config.get("config") or {},
            "Architecture": config.get("architecture", ""), "Os": config.get("os", ""),
            "Size": summary.size if summary else 0,
            "RootFS": {"Type": "layers",
                       "Layers": list(config.get("rootfs", {}).get("diff_ids", []))},
            "History": config.get("history") or [], "ManifestDigest": img.manifest_digest,
        })
    from pycontain.cli.listformat import print_inspect
    print_inspect(out, fmt)
