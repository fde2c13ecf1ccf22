"""`ps`: container rows with docker's field names, filters and columns."""
import json
import re
import time

import click

from pycontain.cli import filters, listformat
from pycontain.errors import PycontainError
from pycontain.timefmt import ago, go_time_string, human_duration, iso

DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t" \
          "{{.Ports}}\t{{.Names}}"
HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
           "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
           "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES",
           "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
           "LocalVolumes": "LOCAL VOLUMES"}
FILTERS = ("name", "id", "status", "ancestor", "label", "exited", "network")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
COMMAND_WIDTH = 20


def status_text(row: dict, now: float | None = None) -> str:
    """docker's STATUS: "Up 3 seconds", "Exited (0) 5 seconds ago", "Created"."""
    now = time.time() if now is None else now
    if row["State"] in ("running", "paused"):
        paused = " (Paused)" if row["State"] == "paused" else ""
        checked = f" ({row['Health']})" if row.get("Health") else ""  # (healthy) ...
        return f"Up {human_duration(now - row['StartedAt'])}{paused}{checked}"
    if row["State"] == "exited":
        code = "?" if row["ExitCode"] is None else row["ExitCode"]
        return f"Exited ({code}) {ago(row['FinishedAt'] or row['Created'], now)}"
    return "Created"


def ports_text(ports: list) -> str:
    """docker's PORTS: 0.0.0.0:8080->80/tcp, ..."""
    return ", ".join(f"{p.get('host_ip') or '0.0.0.0'}:{p['host_port']}->"
                     f"{p['container_port']}/{p['proto']}" for p in ports)


def docker_row(row: dict, no_trunc: bool) -> dict:
    """The fields docker's ps templates see."""
    command = " ".join(row["Command"])
    if not no_trunc and len(command) > COMMAND_WIDTH:
        command = command[:COMMAND_WIDTH - 1] + "…"
    labels = row["Labels"]
    return {"Command": f'"{command}"', "CreatedAt": go_time_string(row["Created"]),
            "ID": row["Id"] if no_trunc else row["Id"][:12], "Image": row["Image"],
            "Label": listformat.label_method(labels), "Labels": listformat.labels_text(labels),
            "LocalVolumes": "0", "Mounts": "", "Names": row["Name"],
            "Networks": ",".join(row["Networks"]), "Ports": ports_text(row["Ports"]),
            "RunningFor": ago(row["Created"]), "Size": "0B", "State": row["State"],
            "Status": row["Status"]}


def _ancestor(row: dict, value: str, cache: dict) -> bool:
    """ancestor=IMAGE: a name or id the store resolves (to the image's id)."""
    if value not in cache:
        from pycontain.image.store import ImageStore
        try:
            cache[value] = ImageStore().resolve(value).id
        except PycontainError:
            cache[value] = None
    return row["ImageID"] == cache[value]


def _matches(row: dict, key: str, value: str, cache: dict) -> bool:
    if key == "name":
        try:
            return re.search(value, row["Name"]) is not None
        except re.error:
            raise PycontainError(f"invalid filter 'name={value}': not a regular expression")
    if key == "id":
        return row["Id"].startswith(value)
    if key == "status":
        if value not in STATUSES:
            raise PycontainError(f"invalid filter 'status={value}': use one of "
                                 f"{', '.join(STATUSES)}")
        return row["State"] == value
    if key == "ancestor":
        return _ancestor(row, value, cache)
    if key == "exited":
        if not value.lstrip("-").isdigit():
            raise PycontainError(f"invalid filter 'exited={value}': not an exit code")
        return row["State"] == "exited" and row["ExitCode"] == int(value)
    if key == "network":
        return value in row["Networks"]
    return False


def selected(rows: list, wanted: dict, show_all: bool) -> list:
    """The rows --all and --filter select (status= and exited= imply --all)."""
    show_all = show_all or "status" in wanted or "exited" in wanted
    out, cache = [], {}
    for row in rows:
        if not show_all and row["State"] not in ("running", "paused"):
            continue
        if not filters.labels_match(row["Labels"], wanted.get("label", [])):
            continue
        if all(any(_matches(row, key, v, cache) for v in values)
               for key, values in wanted.items() if key != "label"):
            out.append(row)
    return out


def print_ps(show_all: bool, fmt: str | None, quiet: bool, filter_items, no_trunc: bool,
             last: int = -1) -> None:
    from pycontain.engine.inspect import summaries
    wanted = filters.parse(filter_items, FILTERS)
    rows = selected(summaries(), wanted, show_all or last >= 0)
    if last >= 0:
        rows = rows[:last]
    now = time.time()
    for row in rows:
        row["Status"] = status_text(row, now)
    if quiet:
        for row in rows:
            click.echo(row["Id"] if no_trunc else row["Id"][:12])
    elif fmt == "json":
        click.echo(json.dumps([dict(r, Created=iso(r["Created"]), StartedAt=iso(r["StartedAt"]),
                                    FinishedAt=iso(r["FinishedAt"])) for r in rows], indent=1))
    else:
        listformat.emit([docker_row(r, no_trunc) for r in rows], fmt, DEFAULT, HEADERS)
