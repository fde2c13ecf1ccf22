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
    """Release dead containers' leases and drop their port tables (bridges and
    DNS servers belong to their networks: `network rm` removes them)."""
    names = config.names()
    if not names:
        return []  # no network was ever used: nothing to look at
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
    return removed
