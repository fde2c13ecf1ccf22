"""The Services' load balancer in the kernel: table `ip pycontain-k-<store>`
(one per store: named from a digest of the store's path).

The same shape as kube-proxy's nftables mode, smaller:

    chain services        (jumped to from nat prerouting and output)
        ip daddr CLUSTERIP tcp dport PORT goto svc-N      every Service
        fib daddr type local tcp dport PORT goto svc-N    LoadBalancer (port), NodePort (nodePort)
    chain svc-N           mark for masquerade; numgen random mod K vmap { i : goto svc-N-i }
    chain svc-N-i         dnat to ENDPOINT:TARGETPORT
    chain nat-post        masquerade what we marked (hairpin, 127.0.0.1, pod-to-pod replies)
    chains refuse-*       filter: a Service without a ready endpoint is refused (tcp reset)

The table is rebuilt and replaced in one `nft -f` transaction on every change
(Service added or removed, endpoint ready or not); the conntrack entries of an
endpoint that left are deleted, so established flows do not stick to it.
"""
import hashlib
import os
import subprocess

from pycontain.errors import PycontainError
from pycontain.kube import store

TABLE_PREFIX = "pycontain-k-"
MARK = "0x4000"
NO_CONNTRACK = "conntrack is needed by Services: install it (apt-get install conntrack)"


def _nft(script: str) -> None:
    result = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True)
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["unknown error"])[0]
        raise PycontainError(f"cannot set the Services' firewall rules: {first}")


def table() -> str:
    """This store's table name: bounded, distinct for every store path."""
    digest = hashlib.sha256(os.path.realpath(store.root()).encode()).hexdigest()
    return TABLE_PREFIX + digest[:12]


def labels_match(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def endpoints(service: dict, pods: list) -> list:
    """[(port entry, [(ip, target port)...])] of a Service over the ready pods."""
    chosen = [p for p in pods if p.get("ready") and p.get("ip")
              and labels_match(service["selector"], p["labels"])]
    found = []
    for port in service["ports"]:
        target = port["targetPort"]
        eps = sorted((p["ip"], target if isinstance(target, int) else p["ports"][target])
                     for p in chosen if isinstance(target, int) or target in p["ports"])
        found.append((port, eps))
    return found


def _chain(name: str, lines: list, hook: str = "") -> str:
    body = "".join(f"    {ln}\n" for ln in lines)
    return f"  chain {name} {{\n{hook}{body}  }}\n"


def _base(kind: str, hook: str, priority: str) -> str:
    return f"    type {kind} hook {hook} priority {priority}; policy accept;\n"


def render(services: list, pods: list) -> tuple:
    """(nft table body, {service: [endpoint ips]})."""
    dispatch, chains, refuse_local, refuse_ip, used = [], [], [], [], {}
    for n, svc in enumerate(services):
        used[svc["name"]] = []
        for k, (port, eps) in enumerate(endpoints(svc, pods)):
            match = f"{port['protocol']} dport"
            local = {"LoadBalancer": port["port"], "NodePort": port.get("nodePort")}.get(
                svc["type"])
            reject = "reject with tcp reset" if port["protocol"] == "tcp" else "reject"
            if not eps:
                refuse_ip.append(f"ip daddr {svc['clusterIP']} {match} {port['port']} {reject}")
                if local:
                    refuse_local.append(f"fib daddr type local {match} {local} {reject}")
                continue
            name = f"svc-{n}-{k}"
            dispatch.append(f"ip daddr {svc['clusterIP']} {match} {port['port']} goto {name}")
            if local:
                dispatch.append(f"fib daddr type local {match} {local} goto {name}")
            vmap = ", ".join(f"{i} : goto {name}-{i}" for i in range(len(eps)))
            chains.append(_chain(name, [f"meta mark set meta mark | {MARK}",
                                        f"numgen random mod {len(eps)} vmap {{ {vmap} }}"]))
            chains += [_chain(f"{name}-{i}", [f"meta l4proto {port['protocol']} "
                                               f"dnat to {ip}:{target}"])
                       for i, (ip, target) in enumerate(eps)]
            used[svc["name"]] += [ip for ip, _ in eps]
    body = (_chain("services", dispatch)
            + _chain("nat-pre", ["jump services"], _base("nat", "prerouting", "dstnat"))
            + _chain("nat-out", ["jump services"], _base("nat", "output", "-100"))
            + _chain("nat-post", [f"meta mark & {MARK} == {MARK} masquerade"],
                     _base("nat", "postrouting", "srcnat"))
            + "".join(chains)
            + _chain("refuse-in", refuse_local + refuse_ip, _base("filter", "input", "-10"))
            + _chain("refuse-fwd", refuse_ip, _base("filter", "forward", "-10"))
            + _chain("refuse-out", refuse_ip, _base("filter", "output", "-10")))
    return body, used


def forget(addresses) -> None:
    """Forget the flows to endpoints that left (exit 1 = none found)."""
    for address in sorted(addresses):
        try:
            subprocess.run(["conntrack", "-D", "--reply-src", address],
                           capture_output=True, timeout=5)
        except FileNotFoundError:
            raise PycontainError(NO_CONNTRACK) from None


def sync() -> None:
    """Make the kernel's table match the Services and ready pods on disk, and
    forget the flows of endpoints that left (not those of a pod draining: its
    open connections finish, see pods.drain)."""
    with store.locked():
        services, pods = store.services(), store.pods()
        before, name = store.lb_state(), table()
        if not services:
            _nft(f"add table ip {name}\ndelete table ip {name}\n")
            store.save_lb_state({})
            return
        body, used = render(services, pods)
        _nft(f"add table ip {name}\ndelete table ip {name}\ntable ip {name} {{\n{body}}}\n")
        store.save_lb_state(used)
    forget({ip for ips in before.values() for ip in ips}
           - {ip for ips in used.values() for ip in ips}
           - {p["ip"] for p in pods if p.get("draining")})


def open_flows(address: str) -> int:
    """How many TCP connections to address are being set up or open."""
    try:
        result = subprocess.run(["conntrack", "-L", "-p", "tcp", "--reply-src", address],
                                capture_output=True, text=True, timeout=5)
    except FileNotFoundError:
        raise PycontainError(NO_CONNTRACK) from None
    return sum(1 for line in result.stdout.splitlines()
               if any(s in line.split() for s in ("SYN_SENT", "SYN_RECV", "ESTABLISHED")))
