"""--label KEY=VALUE and --label-file: a container's labels, merged over its
image's (config Labels), as `inspect` shows them (Config.Labels)."""
from pycontain.errors import PycontainError

MAX_FILE = 1 << 20  # a label file is a few lines; a bigger one is a mistake
MAX_LABELS = 4096


def parse(item: str, where: str) -> tuple:
    """KEY=VALUE (or KEY: an empty value, as docker takes it)."""
    key, _, value = item.partition("=")
    if not key or key != key.strip() or "\0" in item:
        raise PycontainError(f"invalid label {item[:80]!r} in {where}: want KEY=VALUE")
    return key, value


def read_file(path: str) -> list:
    """The KEY=VALUE lines of a label file (blank lines and # comments skipped)."""
    from pycontain.fsutil import read_capped
    data = read_capped(path, MAX_FILE, "label file")
    lines = (ln.strip() for ln in data.decode(errors="replace").splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def merged(image_cfg: dict, label_files: list, labels: list) -> dict:
    """The image's labels, then the files', then --label's (later wins)."""
    out = dict(image_cfg.get("Labels") or {})
    items = [(item, f"label file {path}") for path in label_files for item in read_file(path)]
    items += [(item, "--label") for item in labels]
    for item, where in items:
        key, value = parse(item, where)
        out[key] = value
    if len(out) > MAX_LABELS:
        raise PycontainError(f"too many labels: {len(out)} (at most {MAX_LABELS})")
    return out
