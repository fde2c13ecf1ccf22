"""Network definitions: <data root>/networks/<name>/network.json.

The default network `bridge` (bridge device pycontain0, 10.88.0.0/16, outbound
NAT on, no name resolution, as docker's default bridge) needs no `create`: its
definition is written on first use. User networks get a bridge named after
their id, a /24 out of 10.89.0.0/16 unless --subnet is given, and name
resolution between their containers.
"""
import os
import time

from pycontain import paths
from pycontain.errors import PycontainError
from pycontain.fsutil import read_json, remove_tree, write_json

DEFAULT = "bridge"
BUILTIN = ("bridge", "host", "none")
DEFAULT_BRIDGE = "pycontain0"
DEFAULT_SUBNET = os.environ.get("PYCONTAIN_BRIDGE_SUBNET", "10.88.0.0/16")
USER_POOL = "10.89.0.0/16"
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def networks_dir() -> str:
    return os.path.join(paths.data_root(), "networks")


def network_dir(name: str) -> str:
    return os.path.join(networks_dir(), name)


def _definition_path(name: str) -> str:
    return os.path.join(network_dir(name), "network.json")


def describe(name: str, subnet: str, bridge: str, masquerade: bool, dns: bool) -> dict:
    """A network definition; the gateway is the subnet's first address."""
    import ipaddress
    net = ipaddress.ip_network(subnet)
    return {"name": name, "id": os.urandom(32).hex(), "driver": "bridge", "bridge": bridge,
            "subnet": str(net), "gateway": str(net.network_address + 1),
            "masquerade": masquerade, "dns": dns, "created": time.time()}


def _default_definition() -> dict:
    return describe(DEFAULT, DEFAULT_SUBNET, DEFAULT_BRIDGE, masquerade=True, dns=False)


def load(name: str) -> dict:
    """The definition of a bridge network; raises for an unknown name."""
    try:
        return read_json(_definition_path(name))
    except FileNotFoundError:
        if name == DEFAULT:
            return save(_default_definition(), exist_ok=True)
        raise PycontainError(f"network {name} not found: create it with "
                             f"`pycontain network create {name}`") from None


def save(definition: dict, exist_ok: bool = False) -> dict:
    """Write a new definition; exist_ok returns the one already there instead.

    The directory is filled under a temporary name and renamed into place, so
    concurrent first uses of a network see either no definition or a whole one.
    """
    name = definition["name"]
    tmp = os.path.join(paths.ensure_dir(networks_dir()), f".new-{name}-{os.urandom(4).hex()}")
    os.mkdir(tmp, 0o700)
    try:
        write_json(os.path.join(tmp, "network.json"), definition)
        os.rename(tmp, network_dir(name))
    except OSError as exc:
        remove_tree(tmp)
        if not os.path.exists(_definition_path(name)):
            raise PycontainError(f"cannot save network {name}: {exc.strerror}") from None
        if exist_ok:
            return read_json(_definition_path(name))
        raise PycontainError(f"network with name {name} already exists") from None
    return definition


def delete(name: str) -> None:
    remove_tree(network_dir(name))


def names() -> list:
    """Names of the bridge networks defined on disk."""
    try:
        entries = os.listdir(networks_dir())
    except FileNotFoundError:
        return []
    return sorted(e for e in entries
                  if not e.startswith(".") and os.path.exists(_definition_path(e)))


def all_definitions() -> list:
    """Every bridge network's definition (the default one included)."""
    found = [load(n) for n in names()]
    return found if any(d["name"] == DEFAULT for d in found) else [load(DEFAULT)] + found


def validate_name(name: str) -> str:
    if not name or name[0] in "_.-" or not set(name) <= NAME_CHARS or len(name) > 64:
        raise PycontainError(f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                             "are allowed")
    if name in BUILTIN:
        raise PycontainError(f"network {name} is pre-defined and cannot be created")
    return name
