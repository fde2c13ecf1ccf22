"""Connecting one container to one bridge network, and undoing it.

Everything that touches a network's bridge or leases happens under that
network's lock: the address is leased, the bridge created if needed, the veth
pair plugged in, the hosts files synced; on the way out the lease goes, the
veth goes, and the bridge (and its NAT table) go once no container is left.
"""
from pycontain.net import config, firewall, hosts, ipam


def veth_name(cid: str, ifname: str) -> str:
    """Host-side veth name: derived from the container id, so a crashed
    engine's leftovers can be found again (IFNAMSIZ allows 15 characters)."""
    return f"veth{cid[:9]}{ifname[3:]}"


def next_ifname(cid: str) -> str:
    used = {v["ifname"] for n in ipam.networks_of(cid) for v in ipam.leases(n).values()
            if v["cid"] == cid}
    return next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)


def _teardown_if_unused(definition: dict) -> None:
    """Remove the bridge and its NAT table once no container is on it."""
    from pycontain.net import links
    if not ipam.leases(definition["name"]):
        links.delete_link(definition["bridge"])
        if definition.get("masquerade"):
            firewall.delete_table(firewall.network_table(definition["bridge"]))


def connect(cid: str, name: str, hostname: str, pid: int, network: str,
            default_route: bool = True) -> dict:
    """Plug the container (first process pid) into network; return its lease."""
    import ipaddress
    from pycontain.net import links
    definition = config.load(network)
    ifname = next_ifname(cid)
    lease = {"cid": cid, "name": name, "hostname": hostname, "veth": veth_name(cid, ifname),
             "ifname": ifname}
    with ipam.locked(network):
        created = links.ensure_bridge(definition)
        if created:
            firewall.set_network_rules(definition)
        address = ipam.allocate(definition, lease)
        try:
            links.plug_veth(pid, lease["veth"], ifname, lease["mac"], definition["bridge"],
                            address, ipaddress.ip_network(definition["subnet"]).prefixlen,
                            definition["gateway"] if default_route else None)
            hosts.sync(definition, also=cid)
        except BaseException:
            ipam.release(network, cid)
            links.delete_link(lease["veth"])
            _teardown_if_unused(definition)
            raise
    return dict(lease, address=address, network=network, subnet=definition["subnet"],
                gateway=definition["gateway"])


def disconnect(cid: str, network: str, pid: int = 0) -> list:
    """Unplug the container from network (pid: still running, take its
    interface out); return the leases it held there."""
    from pycontain.net import links
    definition = config.load(network)
    with ipam.locked(network):
        gone = ipam.release(network, cid)
        for lease in gone:
            if pid:
                links.unplug_in(pid, lease["ifname"])
            links.delete_link(lease["veth"])
        hosts.sync(definition, also=cid if pid else "")
        _teardown_if_unused(definition)
    return gone
