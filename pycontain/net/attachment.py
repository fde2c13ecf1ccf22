"""Connecting one container to one bridge network, and undoing it.

Everything that touches a network's bridge or leases happens under that
network's lock: the address is leased, the bridge (with its NAT table and, on
a user network, its DNS server) created if needed, the veth pair plugged in,
the hosts files synced; on the way out the lease goes and the hosts files are
synced again. The bridge stays until `network rm` (as docker0 does): deleting
a link costs the kernel 20-60 ms, more than a container start. A container
that exited takes its veth pair with its network namespace; only a running
one (`network disconnect`) has its interface deleted here.
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


def connect(cid: str, name: str, hostname: str, pid: int, network: str,
            default_route: bool = True, extra: dict | None = None, wanted: str = "") -> dict:
    """Plug the container (first process pid) into network; return its lease.
    extra: more of the lease (aliases, extra_hosts); wanted: an address (--ip)."""
    from pycontain.net import dns, links
    definition = config.load(network)
    ifname = next_ifname(cid)
    lease = {"cid": cid, "name": name, "hostname": hostname, "veth": veth_name(cid, ifname),
             "ifname": ifname, **(extra or {})}
    with ipam.locked(network):
        created = links.ensure_bridge(definition)
        if created:
            firewall.set_network_rules(definition)
        address = ipam.allocate(definition, lease, wanted)
        try:
            links.plug_veth(pid, lease["veth"], ifname, lease["mac"], definition["bridge"],
                            address, links.prefix_length(definition),
                            definition["gateway"] if default_route else None)
            hosts.sync(definition, also=cid)
            if definition.get("dns"):
                dns.ensure(definition)
        except BaseException:
            ipam.release(network, cid)
            links.delete_links(lease["veth"])
            hosts.sync(definition)
            raise
    return dict(lease, address=address, network=network, subnet=definition["subnet"],
                gateway=definition["gateway"])


def disconnect(cid: str, network: str, pid: int = 0) -> list:
    """Unplug the container from network (pid: still running, take its
    interface out); return the leases it held there."""
    definition = config.load(network)
    with ipam.locked(network):
        gone = ipam.release(network, cid)
        for lease in gone:
            if pid:
                from pycontain.net import links
                links.unplug_in(pid, lease["ifname"])
        hosts.sync(definition, also=cid if pid else "")
    return gone
