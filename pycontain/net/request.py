"""What a new container asks of the network, checked before anything is created."""
import os

from pycontain.errors import PycontainError
from pycontain.net import config, ports

NO_BRIDGE = ("none", "host")


def _check_ip(wanted: str, definition: dict) -> str:
    import ipaddress
    try:
        address = ipaddress.IPv4Address(wanted)
    except ValueError:
        raise PycontainError(f"invalid --ip {wanted!r}: want an IPv4 address") from None
    net = ipaddress.ip_network(definition["subnet"])
    if address not in net or address in (net.network_address, net.broadcast_address) \
            or str(address) == definition["gateway"]:
        raise PycontainError(f"invalid --ip {wanted}: not a free host address of network "
                             f"{definition['name']} ({net})")
    return str(address)


def network_request(opts, image_cfg: dict):
    """The `net` entry of a container's record: {"networks": [name], "ports": [...],
    "aliases": [...], "ip": wanted address or "", "gateway": ..., "dns": the
    network's name server or ""}, or None for --network none/host (which
    cannot publish ports)."""
    publish = opts.publish or opts.publish_all
    if opts.network in NO_BRIDGE:
        if publish:
            raise PycontainError(f"cannot publish ports with --network {opts.network}: "
                                 "use a bridge network (--network bridge or a user network)")
        if opts.ip or opts.network_aliases:
            raise PycontainError(f"--ip and --network-alias need a user network, not "
                                 f"--network {opts.network}")
        return None
    if os.geteuid() != 0:
        raise PycontainError(f"--network {opts.network}: bridge networks (and so -p/-P) need "
                             "root; rootless containers have --network none or host")
    definition = config.load(opts.network)  # an unknown network fails here, before anything exists
    if (opts.ip or opts.network_aliases) and opts.network == config.DEFAULT:
        raise PycontainError("--ip and --network-alias are supported on user networks only "
                             "(pycontain network create NAME)")
    from pycontain.engine.names import validate_hostname
    aliases = [validate_hostname(a, "--network-alias") for a in opts.network_aliases]
    return {"networks": [opts.network],
            "ports": ports.requested(opts.publish, opts.publish_all, image_cfg, opts.expose),
            "aliases": list(dict.fromkeys(aliases)),
            "ip": _check_ip(opts.ip, definition) if opts.ip else "",
            "gateway": definition["gateway"],
            "dns": definition["gateway"] if definition.get("dns") else ""}
