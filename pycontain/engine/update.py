"""`pycontain update`: change a running container's limits, and remember them."""
from pycontain.engine import cgroup_provider as provider
from pycontain.errors import PycontainError
from pycontain.fsutil import read_json, write_json
from pycontain.oci.cgroups import ocispec


def _merge(old: dict, new: dict) -> dict:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in old.items()}  # devices: a list
    for section, values in new.items():
        merged.setdefault(section, {}).update(values)
    return merged


def update(ctr, opts) -> dict:
    """Apply the limits in opts (RunOptions resource fields) to a running
    container and record them in its spec; return the merged resources."""
    if not ctr.alive():
        raise PycontainError(f"container {ctr.name} is not running")
    spec = read_json(ctr.path("config.json"))
    current = spec.get("linux", {}).get("resources") or {}
    limit = current.get("memory", {}).get("limit")
    if opts.memory_swap is not None and opts.memory is None and limit is not None:
        opts = opts.replace(memory=str(limit))
    new = ocispec.resources(opts)
    if not new:
        raise PycontainError("update: give at least one limit to change (see --help)")
    provider.update(ctr, new)
    spec.setdefault("linux", {})["resources"] = _merge(current, new)
    write_json(ctr.path("config.json"), spec)
    return spec["linux"]["resources"]
