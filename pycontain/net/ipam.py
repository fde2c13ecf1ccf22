"""Address management: one lease file per network, changed only under its lock.

<data root>/networks/<name>/leases.json maps address -> lease (container id,
name, host name, host-side veth, interface, MAC). Every change happens while
holding an exclusive flock on <name>/lock, so concurrent starts never get the
same address; the lock is also held while the bridge is created or removed, so
a start never races the teardown of an unused bridge.
"""
import os

from pycontain.errors import PycontainError
from pycontain.fsutil import locked_file, read_json, write_json
from pycontain.net import config


def locked(name: str) -> locked_file:
    """Hold the network's lock for the duration of the block."""
    return locked_file(os.path.join(config.network_dir(name), "lock"))


def _path(name: str) -> str:
    return os.path.join(config.network_dir(name), "leases.json")


def leases(name: str) -> dict:
    """address -> lease; an unlocked read sees a whole file (writes are atomic)."""
    try:
        return read_json(_path(name))
    except FileNotFoundError:
        return {}


def _write(name: str, table: dict) -> None:
    write_json(_path(name), table, sync=False)


def _number(address: str) -> int:
    """A dotted IPv4 address (stored by us, so well-formed) as an integer:
    the ipaddress module costs more to import than a lease takes."""
    a, b, c, d = (int(x) for x in address.split("."))
    return a << 24 | b << 16 | c << 8 | d


def _dotted(number: int) -> str:
    return ".".join(str(number >> shift & 255) for shift in (24, 16, 8, 0))


def allocate(definition: dict, lease: dict, wanted: str = "") -> str:
    """Lease `wanted` (an address in the subnet, --ip) or else the lowest free
    host address of the subnet; call under `locked`."""
    name = definition["name"]
    table = leases(name)
    if any(v["cid"] == lease["cid"] for v in table.values()):
        raise PycontainError(f"container {lease['name']} is already connected to network {name}")
    base, _, prefix = definition["subnet"].partition("/")
    first, size = _number(base), 1 << (32 - int(prefix))
    taken = set(table) | {definition["gateway"]}
    if wanted:
        if not first < _number(wanted) < first + size - 1:
            raise PycontainError(f"address {wanted} is not a host address of network {name} "
                                 f"({definition['subnet']})")
        if wanted in taken:
            raise PycontainError(f"address {wanted} is already in use on network {name}")
        candidates = [wanted]
    else:
        candidates = (_dotted(n) for n in range(first + 1, first + size - 1))
    for address in candidates:
        if address not in taken:
            lease["mac"] = mac_address(address)
            table[address] = lease
            _write(name, table)
            return address
    raise PycontainError(f"network {name} has no free address left in {definition['subnet']}")


def mac_address(address: str) -> str:
    """The MAC of the interface holding IPv4 `address`: 02:42 (locally
    administered, as docker) then the address's four bytes. A container that
    gets a departed one's address also gets its MAC, so the neighbour entries
    its peers (and the bridge) cached for that address stay right."""
    return "02:42:" + ":".join(f"{int(b):02x}" for b in address.split("."))


def release(name: str, cid: str) -> list:
    """Drop the container's leases on the network; return them. Call under `locked`."""
    table = leases(name)
    gone = [dict(v, address=k) for k, v in table.items() if v["cid"] == cid]
    if gone:
        _write(name, {k: v for k, v in table.items() if v["cid"] != cid})
    return gone


def networks_of(cid: str) -> list:
    """Names of the networks on which the container holds a lease."""
    return [n for n in config.names() if any(v["cid"] == cid for v in leases(n).values())]
