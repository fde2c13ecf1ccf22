"""Bridge networking: addresses, user networks and names, cleanup.

Every test runs the engine inside a network namespace of its own (the `npc`
fixture) and sends traffic only inside it: the machine's network is untouched.
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import time

from conftest import DEFAULT_BRIDGE, DEFAULT_NAT_TABLE, net_links

HTTPD = "mkdir -p /www && echo hello-from-{0} > /www/index.html && exec httpd -f -p 80 -h /www"


def in_ns(npc, *cmd, timeout=20) -> subprocess.CompletedProcess:
    """Run a host command inside the test's network namespace."""
    return subprocess.run([*npc.prefix, *cmd], capture_output=True, text=True, timeout=timeout)


def links(npc) -> list:
    return net_links(npc)


def settled_links(npc) -> list:
    """The links once the exited containers' veth pairs are gone (the kernel
    removes them with the containers' network namespaces, just after)."""
    deadline = time.monotonic() + 5
    while any(n.startswith("veth") for n in links(npc)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return links(npc)


def test_none_has_only_loopback(npc):
    out = npc.out("run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev")
    assert [ln.split(":")[0].strip() for ln in out.splitlines()[2:]] == ["lo"]
    assert links(npc) == ["lo"]  # and nothing was created on the host side


def test_bridge_gives_address_route_and_hosts(npc):
    out = npc.out("run", "--rm", "--network", "bridge", "--hostname", "box", "busybox", "sh", "-c",
                  "ip -o -4 addr show eth0; ip route; cat /etc/hosts")
    assert "inet 10.88.0.2/16" in out
    assert "default via 10.88.0.1 dev eth0" in out
    assert "10.88.0.2\tbox " in out
    assert settled_links(npc) == ["lo", DEFAULT_BRIDGE]  # the veth is gone, the bridge stays


def test_container_reaches_gateway(npc):
    npc.out("run", "--rm", "--network", "bridge", "busybox", "ping", "-c", "1", "-W", "2",
            "10.88.0.1")


def test_user_network_resolves_names(npc):
    """The seed's shape: an order service calls a user service by name."""
    npc.out("network", "create", "shop")
    try:
        npc.out("run", "-d", "--name", "user-service", "--network", "shop", "busybox",
                "sh", "-c", HTTPD.format("users"))
        out = npc.out("run", "--rm", "--name", "order-service", "--network", "shop", "busybox",
                      "sh", "-c", "for i in $(seq 50); do "  # httpd may still be starting
                      "timeout 5 wget -qO- http://user-service/index.html && break; "
                      "sleep 0.1; done")
        assert out == "hello-from-users\n"
        # and the other way round, with nc: the user service sees order-service's name
        npc.out("run", "-d", "--name", "order-service", "--network", "shop", "busybox",
                "sh", "-c", "while true; do echo order-42 | nc -l -p 7000; done")
        out = npc.out("exec", "user-service", "sh", "-c",
                      "for i in $(seq 50); do timeout 5 nc order-service 7000 && break; "
                      "sleep 0.1; done")
        assert out == "order-42\n"
        hosts = npc.out("exec", "user-service", "cat", "/etc/hosts")
        assert "\torder-service " in hosts
        npc.out("rm", "-f", "order-service")
        assert "order-service" not in npc.out("exec", "user-service", "cat", "/etc/hosts")
        assert "order-service" not in npc.out("network", "inspect", "shop")
    finally:
        npc("rm", "-f", "user-service", "order-service")
        npc("network", "rm", "shop")


def test_default_bridge_has_no_name_resolution(npc):
    # not a word of the generated names (adjective_surname_N): one may be the other's
    npc.out("run", "-d", "--name", "neighbour-x7", "--network", "bridge", "busybox", "sleep", "60")
    try:
        hosts = npc.out("run", "--rm", "--network", "bridge", "busybox", "cat", "/etc/hosts")
        assert "neighbour-x7" not in hosts
    finally:
        npc.out("rm", "-f", "neighbour-x7")


def test_concurrent_starts_get_distinct_addresses(npc):
    def start(i):
        return npc("run", "-d", "--name", f"c{i}", "--network", "bridge", "busybox",
                   "sleep", "60", timeout=120)
    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        results = list(pool.map(start, range(30)))
    try:
        assert [r.returncode for r in results] == [0] * 30, [r.stderr for r in results]
        containers = json.loads(npc.out("network", "inspect", "bridge"))[0]["Containers"]
        addresses = [c["IPv4Address"] for c in containers.values()]
        assert len(addresses) == 30 and len(set(addresses)) == 30
        inside = {npc.out("exec", f"c{i}", "ip", "-o", "-4", "addr", "show", "eth0").split()[3]
                  for i in (0, 14, 29)}
        assert len(inside) == 3 and inside <= {a + "/16" for a in addresses}
    finally:
        npc("rm", "-f", *[f"c{i}" for i, r in enumerate(results) if r.returncode == 0],
            timeout=120)
    assert settled_links(npc) == ["lo", DEFAULT_BRIDGE]
    assert json.loads(npc.out("network", "inspect", "bridge"))[0]["Containers"] == {}


def test_connect_and_disconnect(npc):
    npc.out("network", "create", "--subnet", "10.77.0.0/24", "extra")
    try:
        npc.out("run", "-d", "--name", "multi", "--network", "bridge", "busybox", "sleep", "60")
        npc.out("network", "connect", "extra", "multi")
        out = npc.out("exec", "multi", "ip", "-o", "-4", "addr")
        assert "eth1    inet 10.77.0.2/24" in out and "eth0    inet 10.88.0.2/16" in out
        again = npc("network", "connect", "extra", "multi")
        assert again.returncode == 125 and "already connected" in again.stderr
        npc.out("network", "disconnect", "extra", "multi")
        assert "eth1" not in npc.out("exec", "multi", "ip", "-o", "link")
        busy = npc("network", "connect", "extra", "multi")
        assert busy.returncode == 0
        refused = npc("network", "rm", "extra")
        assert refused.returncode == 125 and "in use by container(s) multi" in refused.stderr
    finally:
        npc("rm", "-f", "multi")
        npc("network", "rm", "extra")


def test_network_commands_and_errors(npc):
    npc.out("network", "create", "--subnet", "10.66.0.0/24", "--no-masquerade", "alpha")
    try:
        names = npc.out("network", "ls", "--format", "{{.Name}}").split()
        assert {"alpha", "bridge", "host", "none"} <= set(names)
        info = json.loads(npc.out("network", "inspect", "alpha"))[0]
        assert info["Subnet"] == "10.66.0.0/24" and info["Gateway"] == "10.66.0.1"
        assert info["Masquerade"] is False and info["NameResolution"] is True
        for args, message in [
            (("network", "create", "alpha"), "already exists"),
            (("network", "create", "--subnet", "10.66.0.128/25", "beta"), "overlaps"),
            (("network", "create", "--subnet", "bogus", "beta"), "invalid subnet"),
            (("network", "create", "host"), "pre-defined"),
            (("network", "rm", "none"), "pre-defined"),
            (("network", "inspect", "nosuch"), "network nosuch not found"),
            (("run", "--rm", "--network", "nosuch", "busybox", "true"), "network nosuch not found"),
        ]:
            result = npc(*args)
            assert result.returncode == 125 and message in result.stderr, (args, result.stderr)
            assert result.stderr.startswith("pycontain: ") and result.stderr.count("\n") == 1
    finally:
        npc.out("network", "rm", "alpha")


def test_gc_releases_what_a_killed_monitor_left(npc):
    cid = npc.out("run", "-d", "--rm", "--network", "bridge", "-p", "8089:80", "busybox",
                  "sleep", "60").strip()
    state = json.loads((npc.runroot / cid / "state.json").read_text())
    subprocess.run(["kill", "-9", str(state["monitor_pid"]), str(state["pid"])], check=True)
    for _ in range(100):  # until the killed monitor is reaped (a zombie counts as alive)
        if not os.path.exists(f"/proc/{state['monitor_pid']}"):
            break
        time.sleep(0.05)
    npc.out("system", "gc")
    assert settled_links(npc) == ["lo", DEFAULT_BRIDGE]
    assert json.loads(npc.out("network", "inspect", "bridge"))[0]["Containers"] == {}
    assert in_ns(npc, "nft", "list", "tables").stdout == DEFAULT_NAT_TABLE + "\n"


PEER_PRINTER = ("import socket\ns = socket.create_server(('0.0.0.0', 9999))\nwhile True:\n"
                "    c, peer = s.accept()\n    c.sendall(peer[0].encode())\n    c.close()\n")


def test_outbound_nat_is_configurable(npc):
    """A fake "outside" (a second namespace behind a veth, 192.168.77.2) sees a
    masqueraded container as the host's address, and an unmasqueraded one not at all."""
    outside = npc.netns + "-out"
    subprocess.run(["ip", "netns", "add", outside], check=True)
    try:
        for cmd in (["ip", "link", "add", "out0", "type", "veth", "peer", "name", "out1",
                     "netns", outside],
                    ["ip", "addr", "add", "192.168.77.1/24", "dev", "out0"],
                    ["ip", "link", "set", "out0", "up"]):
            in_ns(npc, *cmd).check_returncode()
        for cmd in (["addr", "add", "192.168.77.2/24", "dev", "out1"],
                    ["link", "set", "out1", "up"], ["link", "set", "lo", "up"]):
            subprocess.run(["ip", "-n", outside, *cmd], check=True)
        npc.out("network", "create", "--no-masquerade", "plain")
        server = subprocess.Popen(["ip", "netns", "exec", outside, sys.executable, "-c",
                                   PEER_PRINTER])
        try:
            out = npc.out("run", "--rm", "--network", "bridge", "busybox", "sh", "-c",
                          "for i in $(seq 50); do timeout 2 nc 192.168.77.2 9999 && exit; "
                          "sleep 0.1; done; exit 1")  # retried until the server listens
            assert out == "192.168.77.1"
            # no NAT: the outside has no route back to 10.89.0.0/24, so nothing answers
            result = npc("run", "--rm", "--network", "plain", "busybox", "sh", "-c",
                         "timeout 2 nc 192.168.77.2 9999; exit $?")  # sh: timeout is not PID 1
            assert result.returncode != 0 and result.stdout == ""
        finally:
            server.kill()
            server.wait()
    finally:
        npc("network", "rm", "plain")
        in_ns(npc, "ip", "link", "del", "out0")
        subprocess.run(["ip", "netns", "del", outside], check=True)
