"""The engine's resource provider for networks (see pycontain.engine.resources).

Imported for every container, so it imports nothing heavy at module level: a
container whose record has no `net` entry (--network none or host) returns at
once, and the network modules are only loaded when a bridge network is used.
"""
import os


def _net_file(ctr) -> str:
    return ctr.path("net.json")


def attach(ctr, spec: dict, pid: int) -> None:
    """Reserve published host ports, plug the container into its network, DNAT the ports."""
    request = ctr.meta.get("net")
    if not request:
        return
    from pycontain.fsutil import write_json
    from pycontain.net import attachment, firewall, ports

    published = ports.reserve(request["ports"])
    extra = {"aliases": request.get("aliases", []),
             "extra_hosts": request.get("extra_hosts", [])}
    lease = attachment.connect(ctr.id, ctr.name, spec["hostname"], pid, request["networks"][0],
                               extra=extra, wanted=request.get("ip", ""))
    if published:
        firewall.set_port_rules(ctr.id, published, lease["address"], lease["subnet"])
    write_json(_net_file(ctr), {"ports": published}, sync=False)


def release(ctr) -> None:
    """Undo attach (and any `network connect`): idempotent, also after a crash."""
    request = ctr.meta.get("net")
    if not request:
        return
    from pycontain.net import attachment, firewall, ipam, ports

    for network in ipam.networks_of(ctr.id):
        attachment.disconnect(ctr.id, network)
    if request["ports"]:
        firewall.delete_table(firewall.container_table(ctr.id))
    ports.unreserve()
    try:
        os.unlink(_net_file(ctr))
    except FileNotFoundError:
        pass


def collect(known_ids=()) -> list:
    """`system gc`: leases, port rules and bridges no running container explains."""
    from pycontain.net.sweep import sweep
    return sweep()
