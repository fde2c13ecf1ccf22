"""`system gc` for networks: what a crashed engine left that no live container explains."""
from pycontain.net import attachment, config, firewall, ipam
from pycontain.engine import state


def _live(cid: str) -> bool:
    """The container exists and runs, or its creator/monitor is still at work."""
    try:
        ctr = state.load(cid)
    except (FileNotFoundError, ValueError):
        return False
    return ctr.alive() or ctr.monitor_alive()


def sweep() -> list:
    """Release dead containers' leases, drop their port tables, remove unused bridges."""
    names = config.names()
    if not names:
        return []  # no network was ever used: nothing to look at (and no pyroute2 import)
    from pycontain.net import links
    removed, live = [], {}
    for name in names:
        for address, lease in ipam.leases(name).items():
            cid = lease["cid"]
            if not live.setdefault(cid, _live(cid)):
                attachment.disconnect(cid, name)
                removed.append(f"released {address} of container {cid[:12]} on network {name}")
    live_prefixes = {cid[:12] for cid in state.all_ids() if _live(cid)}
    for table in firewall.tables():
        if table.startswith(firewall.CONTAINER_PREFIX) and \
                table[len(firewall.CONTAINER_PREFIX):] not in live_prefixes:
            firewall.delete_table(table)
            removed.append(f"removed firewall table {table}")
    for definition in map(config.load, names):
        with ipam.locked(definition["name"]):
            if not ipam.leases(definition["name"]) and links.existing([definition["bridge"]]):
                links.delete_link(definition["bridge"])
                firewall.delete_table(firewall.network_table(definition["bridge"]))
                removed.append(f"removed unused bridge {definition['bridge']}")
    return removed
