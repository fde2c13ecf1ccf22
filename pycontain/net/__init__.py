"""Container networking: bridge networks, addresses, name resolution, published ports.

    config     network definitions on disk (the default `bridge`, user networks)
    ipam       address leases, one file per network under a file lock
    links      bridges, veth pairs, addresses and routes (iproute2's `ip -batch`)
    firewall   nftables tables: outbound NAT per network, DNAT per container
               (libnftables, in-process)
    ports      -p/-P parsing and host port reservation
    hosts      /etc/hosts of containers on networks with name resolution
    dns        the DNS server (dnsmasq) of each user network
    attachment connecting one container to one network, and undoing it
    provider   the runtime's resource provider: attach/release/collect
    api        what `pycontain network ...` and `pycontain port` call

Nothing here is imported for a container on `--network none` or `host`
except `provider` (which returns at once) and `request` (flag checks).
"""
