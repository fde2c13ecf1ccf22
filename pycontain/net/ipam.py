"""Address management: one lease file per network, changed only under its lock.

<data root>/networks/<name>/leases.json maps address -> lease (container id,
name, host name, host-side veth, interface, MAC). Every change happens while
holding an exclusive flock on <name>/lock, so concurrent starts never get the
same address; the lock is also held while the bridge is created or removed, so
a start never races the teardown of an unused bridge.
"""
import fcntl
import os
from contextlib import contextmanager

from pycontain.errors import PycontainError
from pycontain.fsutil import read_json, write_json
from pycontain.net import config


@contextmanager
def locked(name: str):
    """Hold the network's lock for the duration of the block."""
    fd = os.open(os.path.join(config.network_dir(name), "lock"),
                 os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


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


def allocate(definition: dict, lease: dict) -> str:
    """Lease the lowest free host address of the subnet; call under `locked`."""
    import ipaddress
    name = definition["name"]
    table = leases(name)
    if any(v["cid"] == lease["cid"] for v in table.values()):
        raise PycontainError(f"container {lease['name']} is already connected to network {name}")
    net = ipaddress.ip_network(definition["subnet"])
    taken = set(table) | {definition["gateway"]}
    for address in net.hosts():
        if str(address) not in taken:
            lease["mac"] = mac_address(str(address))
            table[str(address)] = lease
            _write(name, table)
            return str(address)
    raise PycontainError(f"network {name} has no free address left in {net}")


def mac_address(address: str) -> str:
    """The MAC of the interface holding IPv4 `address`: 02:42 (locally
    administered, as docker) then the address's four bytes. A container that
    gets a departed one's address also gets its MAC, so the neighbour entries
    its peers (and the bridge) cached for that address stay right."""
    import ipaddress
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(address).packed)


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
