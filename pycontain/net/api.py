"""What `pycontain network ...` and `pycontain port` do (the CLI only formats)."""
import ipaddress

from pycontain.errors import PycontainError
from pycontain.fsutil import read_json
from pycontain.net import attachment, config, firewall, ipam
from pycontain.engine import state

POOL_PREFIX = 24


def _host_routes() -> list:
    """IPv4 routes of this network namespace that are not on pycontain bridges."""
    ours = {d["bridge"] for d in config.all_definitions()}
    try:
        with open("/proc/net/route") as f:
            rows = [ln.split() for ln in f.read().splitlines()[1:]]
    except FileNotFoundError:
        return []
    nets = []
    for row in rows:
        if row[0] in ours or row[1] == "00000000":  # ours, or a default route
            continue
        dest = ipaddress.IPv4Address(int(row[1], 16).to_bytes(4, "little"))
        mask = bin(int(row[7], 16)).count("1")
        nets.append(ipaddress.ip_network(f"{dest}/{mask}", strict=False))
    return nets


def _taken() -> list:
    return [ipaddress.ip_network(d["subnet"]) for d in config.all_definitions()] + _host_routes()


def choose_subnet(subnet: str | None) -> str:
    """Check a requested subnet, or pick the first free /24 of the user pool."""
    taken = _taken()
    if subnet:
        try:
            net = ipaddress.ip_network(subnet)
        except ValueError as exc:
            raise PycontainError(f"invalid subnet {subnet}: {exc}") from None
        if net.version != 4 or net.prefixlen > 30:
            raise PycontainError(f"invalid subnet {subnet}: want an IPv4 network of /30 or larger")
        clash = next((t for t in taken if t.overlaps(net)), None)
        if clash:
            raise PycontainError(f"subnet {net} overlaps {clash}, already in use")
        return str(net)
    for net in ipaddress.ip_network(config.USER_POOL).subnets(new_prefix=POOL_PREFIX):
        if not any(t.overlaps(net) for t in taken):
            return str(net)
    raise PycontainError(f"no free subnet left in {config.USER_POOL}: pass --subnet")


def create(name: str, subnet: str | None = None, masquerade: bool = True) -> dict:
    config.validate_name(name)
    if name in config.names():
        raise PycontainError(f"network with name {name} already exists")
    definition = config.describe(name, choose_subnet(subnet), "", masquerade, dns=True)
    definition["bridge"] = "pcbr-" + definition["id"][:10]
    return config.save(definition)


def _containers(name: str) -> dict:
    return {v["cid"]: {"Name": v["name"], "IPv4Address": address,
                       "MacAddress": v.get("mac", ""), "Interface": v["ifname"],
                       "HostVeth": v["veth"], "Aliases": v.get("aliases", [])}
            for address, v in ipam.leases(name).items()}


def listing() -> list:
    rows = [{"Name": d["name"], "Id": d["id"], "Driver": "bridge", "Subnet": d["subnet"],
             "Created": d.get("created", 0)} for d in config.all_definitions()]
    return rows + [{"Name": "host", "Id": "host", "Driver": "host", "Subnet": "", "Created": 0},
                   {"Name": "none", "Id": "none", "Driver": "null", "Subnet": "", "Created": 0}]


def inspect(name: str) -> dict:
    definition = config.load(name)
    return {"Name": name, "Id": definition["id"], "Driver": "bridge",
            "Bridge": definition["bridge"], "Subnet": definition["subnet"],
            "Gateway": definition["gateway"], "Masquerade": definition["masquerade"],
            "NameResolution": definition["dns"], "Containers": _containers(name)}


def remove(name: str) -> None:
    if name in config.BUILTIN and name != config.DEFAULT:
        raise PycontainError(f"network {name} is pre-defined and cannot be removed")
    definition = config.load(name)
    with ipam.locked(name):
        users = [v["name"] for v in ipam.leases(name).values()]
        if users:
            raise PycontainError(f"network {name} is in use by container(s) {', '.join(users)}: "
                                 "remove or disconnect them first")
        from pycontain.net import dns, links
        dns.stop(definition)
        links.delete_link(definition["bridge"])
        firewall.delete_table(firewall.network_table(definition["bridge"]))
        config.delete(name)


def _running(ref: str):
    ctr = state.lookup(ref)
    if not ctr.alive():
        raise PycontainError(f"container {ctr.name} is not running")
    if not ctr.meta.get("net"):
        raise PycontainError(f"container {ctr.name} uses --network {ctr.meta.get('network')}: "
                             "it cannot join a bridge network")
    return ctr


def connect(network: str, ref: str) -> dict:
    ctr = _running(ref)
    hostname = read_json(ctr.path("config.json")).get("hostname") or ctr.id[:12]
    extra = {"extra_hosts": (ctr.meta.get("net") or {}).get("extra_hosts", [])}
    return attachment.connect(ctr.id, ctr.name, hostname, ctr.state.pid, network,
                              default_route=False, extra=extra)


def disconnect(network: str, ref: str) -> None:
    ctr = _running(ref)
    config.load(network)
    if not attachment.disconnect(ctr.id, network, ctr.state.pid):
        raise PycontainError(f"container {ctr.name} is not connected to network {network}")


def published(ref: str) -> list:
    """The container's published ports (empty unless it runs on a bridge network)."""
    ctr = state.lookup(ref)
    try:
        return read_json(ctr.path("net.json"))["ports"]
    except FileNotFoundError:
        return []
