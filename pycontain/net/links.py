"""Bridges, veth pairs, addresses and routes, through netlink (pyroute2).

pyroute2 costs ~100 ms to import, so this module is imported only when a
container actually joins a bridge network, never on `--network none`.
"""
import os
from contextlib import contextmanager

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from pycontain import native

ENODEV = 19


def _sysctl(key: str, value: str) -> None:
    with open("/proc/sys/net/" + key, "w") as f:
        f.write(value)


@contextmanager
def _ipr():
    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


@contextmanager
def _ipr_in(pid: int):
    """A netlink socket in pid's network namespace (sockets keep the namespace
    they were created in, so we enter it only to create the socket)."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    theirs = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        native.setns(theirs, 0)
        try:
            ipr = IPRoute()
        finally:
            native.setns(own, 0)
    finally:
        os.close(own)
        os.close(theirs)
    try:
        yield ipr
    finally:
        ipr.close()


def _index(ipr, name: str):
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(definition: dict) -> bool:
    """Create the network's bridge with its gateway address, unless it exists;
    True if it was created.

    Also turns on IPv4 forwarding (containers reach each other's published
    ports and the outside through the host) and route_localnet on the bridge
    (so 127.0.0.1:PORT can be DNATed to a container).
    """
    import ipaddress
    bridge = definition["bridge"]
    with _ipr() as ipr:
        if _index(ipr, bridge) is not None:
            return False
        ipr.link("add", ifname=bridge, kind="bridge")
        index = _index(ipr, bridge)
        prefix = ipaddress.ip_network(definition["subnet"]).prefixlen
        ipr.addr("add", index=index, address=definition["gateway"], prefixlen=prefix)
        ipr.link("set", index=index, state="up")
    _sysctl("ipv4/ip_forward", "1")
    _sysctl(f"ipv4/conf/{bridge}/route_localnet", "1")
    return True


def delete_link(name: str) -> bool:
    """Delete a link (bridge or veth) if it exists; True if it did."""
    with _ipr() as ipr:
        index = _index(ipr, name)
        if index is None:
            return False
        try:
            ipr.link("del", index=index)
        except NetlinkError as exc:
            if exc.code != ENODEV:
                raise
            return False
    return True


def existing(names) -> list:
    """Those of names that are links in our network namespace."""
    with _ipr() as ipr:
        return [n for n in names if _index(ipr, n) is not None]


def plug_veth(pid: int, veth: str, ifname: str, mac: str, bridge: str, address: str,
              prefix: int, gateway: str | None) -> None:
    """A veth pair: `veth` on the bridge, its peer `ifname` (MAC `mac`) in pid's
    network namespace with address/prefix, up, and (if gateway) the default route."""
    nsfd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _ipr() as ipr:
            ipr.link("add", ifname=veth, kind="veth",
                     peer={"ifname": ifname, "net_ns_fd": nsfd, "address": mac})
            index = _index(ipr, veth)
            ipr.link("set", index=index, master=_index(ipr, bridge), state="up")
            ipr.brport("set", index=index, mode=1)  # hairpin: reach own published ports
    finally:
        os.close(nsfd)
    with _ipr_in(pid) as inner:
        index = _index(inner, ifname)
        inner.addr("add", index=index, address=address, prefixlen=prefix)
        inner.link("set", index=index, state="up")
        if gateway:
            inner.route("add", dst="0.0.0.0/0", gateway=gateway)


def unplug_in(pid: int, ifname: str) -> None:
    """Delete the interface ifname inside pid's network namespace (its veth peer goes too)."""
    with _ipr_in(pid) as inner:
        index = _index(inner, ifname)
        if index is not None:
            inner.link("del", index=index)
