"""`images`: rows with docker's field names, and its filters."""
from pycontain.cli import filters, listformat
from pycontain.errors import PycontainError
from pycontain.timefmt import ago, go_time_string, parse_rfc3339

DEFAULT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
DEFAULT_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}" \
                  "\t{{.Size}}"
HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
           "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
           "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE",
           "UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE", "Labels": "LABELS"}
FILTERS = ("reference", "dangling", "label", "before", "since")


def _seconds(created: str) -> float:
    try:
        return parse_rfc3339(created) / 1e9
    except PycontainError:
        return 0.0


def _labels(store, image_id: str, cache: dict) -> dict:
    """The image config's config.Labels (read once per image)."""
    if image_id not in cache:
        config = store.resolve(image_id).config
        cache[image_id] = dict((config.get("config") or {}).get("Labels") or {})
    return cache[image_id]


def _reference_matches(row: dict, pattern: str) -> bool:
    repos = {row["Repository"], row["Repository"].removeprefix("localhost/")}
    names = [row["Name"]] + [n for r in repos for n in (r, f"{r}:{row['Tag']}")]
    return any(filters.glob(pattern, name) for name in names)


def _created_of(store, ref: str) -> float:
    """before=/since=: the named image's creation time."""
    image_id = store.resolve(ref).id
    for summary in store.list():
        if summary.id == image_id:
            return _seconds(summary.created)
    return 0.0


def _keep(row: dict, wanted: dict, bounds: dict, labels) -> bool:
    if "reference" in wanted and not any(_reference_matches(row, p) for p in wanted["reference"]):
        return False
    if "dangling" in wanted:
        dangling = row["Tag"] == "<none>"
        if not any(filters.boolean("dangling", v) == dangling for v in wanted["dangling"]):
            return False
    created = _seconds(row["Created"])
    if "before" in bounds and not created < bounds["before"]:
        return False
    if "since" in bounds and not created > bounds["since"]:
        return False
    return "label" not in wanted or filters.labels_match(labels(row["Id"]), wanted["label"])


def rows(store, filter_items=()) -> list:
    """One row per image name, newest first, as --filter selects."""
    from pycontain.image import reference

    wanted = filters.parse(filter_items, FILTERS)
    bounds = {key: min(_created_of(store, v) for v in wanted[key])
              for key in ("before", "since") if key in wanted}
    cache = {}
    out = []
    for image in store.list():
        for name in image.names:
            ref = reference.parse(name)
            row = {"Repository": ref.short, "Tag": ref.tag or "<none>", "Name": name,
                   "Id": image.id, "Digest": image.manifest_digest,
                   "Created": image.created, "Size": image.size,
                   "_labels": lambda i=image.id: _labels(store, i, cache)}
            if _keep(row, wanted, bounds, lambda i: _labels(store, i, cache)):
                out.append(row)
    return out


def docker_row(row: dict, no_trunc: bool, human_size) -> dict:
    """The fields docker's images templates see."""
    image_id = row["Id"] if no_trunc else row["Id"].split(":")[-1][:12]
    labels = row["_labels"]()
    return {"Containers": "N/A", "CreatedAt": go_time_string(_seconds(row["Created"])),
            "CreatedSince": ago(_seconds(row["Created"])), "Digest": row["Digest"],
            "ID": image_id, "Label": listformat.label_method(labels),
            "Labels": listformat.labels_text(labels),
            "Repository": row["Repository"], "SharedSize": "N/A",
            "Size": human_size(row["Size"]), "Tag": row["Tag"], "UniqueSize": "N/A",
            "VirtualSize": human_size(row["Size"])}

