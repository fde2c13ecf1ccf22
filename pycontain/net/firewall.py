"""nftables rules, one table per owner so removing them is one atomic command.

    ip pycontain-n-<bridge>   a network's outbound NAT (masquerade of its subnet
                              leaving through any other interface)
    ip pycontain-c-<id12>     a container's published ports: DNAT of
                              [HOSTIP|any local address]:HOSTPORT to the container,
                              in prerouting (other hosts, other containers) and
                              output (the host itself, 127.0.0.1 included), and
                              masquerade of DNATed flows coming from loopback or
                              from the same subnet (their replies must come back
                              through the host to be un-NATed)
"""
from pycontain.errors import PycontainError

NETWORK_PREFIX = "pycontain-n-"
CONTAINER_PREFIX = "pycontain-c-"
_ctx = []  # one libnftables context per process, made on first use


def _context():
    """(lib, ffi, context): libnftables, loaded in-process (see csrc/build_nftables.py)."""
    if not _ctx:
        from pycontain._nftables import ffi
        try:
            lib = ffi.dlopen("libnftables.so.1")
        except OSError:
            raise PycontainError("nftables is needed for bridge networks and published ports: "
                                 "install it (apt-get install nftables)") from None
        ctx = lib.nft_ctx_new(0)
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        _ctx.append((lib, ffi, ctx))
    return _ctx[0]


def _nft(script: str) -> str:
    """Run an nft script as one transaction (all of it or nothing); its output."""
    lib, ffi, ctx = _context()
    if lib.nft_run_cmd_from_buffer(ctx, script.encode()) != 0:
        error = ffi.string(lib.nft_ctx_get_error_buffer(ctx)).decode(errors="replace")
        first = (error.strip().splitlines() or ["unknown error"])[0]
        raise PycontainError(f"cannot set firewall rules: {first}")
    return ffi.string(lib.nft_ctx_get_output_buffer(ctx)).decode(errors="replace")


def _replace_table(name: str, body: str) -> None:
    """Create or atomically replace table ip NAME with body."""
    _nft(f"add table ip {name}\ndelete table ip {name}\ntable ip {name} {{\n{body}}}\n")


def delete_table(name: str) -> None:
    """Remove table ip NAME if it exists (adding it first makes that one transaction)."""
    _nft(f"add table ip {name}\ndelete table ip {name}\n")


def network_table(bridge: str) -> str:
    return NETWORK_PREFIX + bridge


def container_table(cid: str) -> str:
    return CONTAINER_PREFIX + cid[:12]


def set_network_rules(definition: dict) -> None:
    """Outbound NAT for the network, if it is enabled."""
    if not definition.get("masquerade"):
        return
    rule = f'ip saddr {definition["subnet"]} oifname != "{definition["bridge"]}" masquerade'
    _replace_table(network_table(definition["bridge"]),
                   _chain("post", "postrouting", "srcnat", [rule]))


def _chain(name: str, hook: str, priority: str, rules: list) -> str:
    lines = "".join(f"    {r}\n" for r in rules)
    return (f"  chain {name} {{\n    type nat hook {hook} priority {priority}; policy accept;\n"
            f"{lines}  }}\n")


def set_port_rules(cid: str, ports: list, address: str, subnet: str) -> None:
    """DNAT each published port (dicts host_ip, host_port, container_port, proto)."""
    dnat, masq = [], []
    for p in ports:
        match = f"ip daddr {p['host_ip']}" if p["host_ip"] else "fib daddr type local"
        dnat.append(f"{match} {p['proto']} dport {p['host_port']} "
                    f"dnat to {address}:{p['container_port']}")
        masq.append(f"ip daddr {address} {p['proto']} dport {p['container_port']} ct status dnat "
                    f"ip saddr {{ 127.0.0.0/8, {subnet} }} masquerade")
    _replace_table(container_table(cid),
                   _chain("pre", "prerouting", "dstnat", dnat)
                   + _chain("out", "output", "-100", dnat)
                   + _chain("post", "postrouting", "srcnat", masq))


def tables() -> list:
    """Names of pycontain's tables in this network namespace."""
    out = _nft("list tables\n")
    names = [ln.split()[-1] for ln in out.splitlines() if ln.startswith("table ip ")]
    return [n for n in names if n.startswith((NETWORK_PREFIX, CONTAINER_PREFIX))]
