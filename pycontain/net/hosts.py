"""/etc/hosts of containers on bridge networks, kept in sync from the leases.

A container's hosts file lists localhost, its --add-host entries, its own
address(es) with its host name and name, and, for each network with name
resolution (user networks), every other container on it by name, host name
and --network-alias, and the lines another part of pycontain set for the
network (set_extra: kube's Service names). The file is bind-mounted into the
container, so it is rewritten in place (same inode), never replaced. The
network's DNS server (pycontain.net.dns) gets the same names from the same leases.
"""
import os

from pycontain.engine import state
from pycontain.engine.hostfiles import hosts_line, hosts_text
from pycontain.net import config, ipam


def peer_line(address: str, lease: dict) -> str:
    """How other containers (and the DNS server) know a container."""
    return hosts_line(address, lease["name"], lease["hostname"], *lease.get("aliases", ()))


def render(cid: str, memberships: dict) -> str:
    """memberships: network definition name -> (definition, leases)."""
    own, peers, extra = [], [], []
    for definition, table in memberships.values():
        for address, lease in table.items():
            if lease["cid"] == cid:
                own.append(hosts_line(address, lease["hostname"], lease["name"]))
                extra = extra or lease.get("extra_hosts", [])
            elif definition.get("dns"):
                peers.append(peer_line(address, lease))
    network_lines = "".join(_extra(name) for name, (definition, _) in memberships.items()
                            if definition.get("dns"))
    return hosts_text(extra, own, peers) + network_lines


def _extra_path(network: str) -> str:
    return os.path.join(config.network_dir(network), "extra_hosts")


def _extra(network: str) -> str:
    try:
        with open(_extra_path(network)) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def set_extra(network: str, entries: dict) -> None:
    """Name -> address lines added to the hosts files of the network's
    containers (a name resolution network only), and sync them."""
    from pycontain.fsutil import write_atomic
    text = "".join(hosts_line(address, *names) for address, names in entries.items())
    with ipam.locked(network):
        write_atomic(_extra_path(network), text.encode(), sync=False)
        sync(config.load(network))


def rewrite(cid: str) -> None:
    """Regenerate one container's hosts file from every network it is on."""
    memberships = {}
    for name in config.names():
        table = ipam.leases(name)
        if any(v["cid"] == cid for v in table.values()):
            memberships[name] = (config.load(name), table)
    path = os.path.join(state.containers_dir(), cid, "hosts")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        os.write(fd, render(cid, memberships).encode())
    finally:
        os.close(fd)


def sync(definition: dict, also: str = "") -> None:
    """Rewrite the hosts files of every container on the network (and of `also`)."""
    table = ipam.leases(definition["name"]) if definition.get("dns") else {}
    if definition.get("dns"):
        from pycontain.net import dns
        dns.write_hosts(definition, "".join(peer_line(a, v) for a, v in table.items()))
    cids = {v["cid"] for v in table.values()}
    for cid in sorted(cids | ({also} if also else set())):
        rewrite(cid)
