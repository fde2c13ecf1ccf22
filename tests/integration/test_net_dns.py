"""Publishing without --network, DNS on user networks, and the name flags of
`run` (--add-host, --dns, --dns-search, --dns-option, --ip, --network-alias).

Everything runs inside the test's own network namespace (the `npc` fixture),
whose check also finds any DNS server (dnsmasq) a test leaves running.
"""
import json
import subprocess
import sys

from conftest import PYCONTAIN, dns_servers
from test_net_bridge import HTTPD
from test_net_ports import wget

# Python's resolver, with the container's /etc/hosts emptied first: only DNS can answer
PY_RESOLVE = ("import socket, sys\nopen('/etc/hosts', 'w').write('127.0.0.1 localhost\\n')\n"
              "print(socket.gethostbyname(sys.argv[1]))\n"
              "print(socket.gethostbyaddr(socket.gethostbyname(sys.argv[1]))[0])\n")


def test_publish_without_network_uses_the_default_bridge(npc):
    npc.out("run", "-d", "--name", "web", "-p", "8080:80", "busybox", "sh", "-c",
            HTTPD.format("web"))
    try:
        assert npc.out("port", "web") == "80/tcp -> 0.0.0.0:8080\n"
        assert wget(npc, "http://127.0.0.1:8080/index.html") == "hello-from-web\n"
        members = json.loads(npc.out("network", "inspect", "bridge"))[0]["Containers"]
        assert [c["Name"] for c in members.values()] == ["web"]
    finally:
        npc("rm", "-f", "web")
    # without -p the default stays --network none
    out = npc.out("run", "--rm", "busybox", "cat", "/proc/net/dev")
    assert [ln.split(":")[0].strip() for ln in out.splitlines()[2:]] == ["lo"]


def nslookup(npc, network: str, name: str) -> str:
    return npc.out("run", "--rm", "--network", network, "busybox", "nslookup", name)


def test_dns_answers_names_aliases_and_addresses(npc):
    npc.out("network", "create", "--subnet", "10.55.0.0/24", "shop")
    try:
        npc.out("run", "-d", "--name", "user-service", "--network", "shop", "--network-alias",
                "users", "--network-alias", "accounts", "busybox", "sleep", "60")
        address = "10.55.0.2"
        (member,) = json.loads(npc.out("network", "inspect", "shop"))[0]["Containers"].values()
        assert member["IPv4Address"] == address and member["Aliases"] == ["users", "accounts"]
        resolv = npc.out("run", "--rm", "--network", "shop", "busybox", "cat", "/etc/resolv.conf")
        assert "nameserver 10.55.0.1\n" in resolv
        for name in ("user-service", "users", "accounts"):
            out = nslookup(npc, "shop", name)
            assert "Server:\t\t10.55.0.1" in out and f"Address: {address}" in out.split(name)[-1]
        assert "name = user-service" in nslookup(npc, "shop", address)  # reverse
        out = npc.out("run", "--rm", "--network", "shop", "python", "python3", "-c", PY_RESOLVE,
                      "users")
        assert out == f"{address}\nuser-service\n"
        # a container that joins later is answered for at once; one that leaves is not
        npc.out("run", "-d", "--name", "late", "--network", "shop", "busybox", "sleep", "60")
        assert "Address: 10.55.0.3" in nslookup(npc, "shop", "late").split("late")[-1]
        npc.out("rm", "-f", "late")
        gone = npc("run", "--rm", "--network", "shop", "busybox", "nslookup", "late")
        assert gone.returncode != 0 and "10.55.0.3" not in gone.stdout
        # the default bridge has no DNS server and no aliases
        result = npc("run", "--rm", "--network", "bridge", "--network-alias", "x", "busybox",
                     "true")
        assert result.returncode == 125 and "user networks only" in result.stderr
        assert len(dns_servers(npc)) == 1
    finally:
        npc("rm", "-f", "user-service", "late")
        npc("network", "rm", "shop")
    assert dns_servers(npc) == []
    assert not (npc.root / "networks" / "shop").exists()


UPSTREAM_CONF = "nameserver 127.0.0.1\n"


def test_dns_forwards_other_names_upstream(npc, tmp_path):
    """Names that are not containers' go to the host's name servers: here a
    second dnsmasq on the namespace's 127.0.0.1, named by an /etc/resolv.conf
    bind-mounted for the engine (and so for the network's DNS server) only."""
    upstream = subprocess.Popen([*npc.prefix, "dnsmasq", "--keep-in-foreground",
                                 "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                                 "--listen-address=127.0.0.1", "--bind-interfaces",
                                 "--address=/upstream.test/10.200.0.9", "--user=root"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conf = tmp_path / "resolv.conf"
    conf.write_text(UPSTREAM_CONF)
    try:
        npc.out("network", "create", "--subnet", "10.56.0.0/24", "outer")
        script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
        result = subprocess.run(
            [*npc.prefix, "unshare", "-m", "sh", "-c", script, str(conf), PYCONTAIN, "run",
             "--rm", "--network", "outer", "busybox", "sh", "-c",
             "for i in $(seq 20); do out=$(nslookup -type=a upstream.test); case $out in "
             "*10.200.0.9*) echo \"$out\"; exit 0;; esac; sleep 0.1; done; exit 1"],
            env=npc.env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "Address: 10.200.0.9" in result.stdout.split("upstream.test")[-1]
    finally:
        upstream.kill()
        upstream.wait()
        npc("network", "rm", "outer")


def test_dns_server_that_cannot_start_leaves_nothing(npc):
    npc.out("network", "create", "--subnet", "10.57.0.0/24", "blocked")
    holder = subprocess.Popen([*npc.prefix, sys.executable, "-c",
                               "import socket, sys, time\n"
                               "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                               "s.bind(('0.0.0.0', 53)); print('ok', flush=True)\n"
                               "time.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "ok\n"
        result = npc("run", "--rm", "--network", "blocked", "busybox", "true")
        assert result.returncode == 125
        assert result.stderr.startswith("pycontain: cannot start the DNS server of network "
                                        "blocked: ") and result.stderr.count("\n") == 1
        assert "Address already in use" in result.stderr
        assert json.loads(npc.out("network", "inspect", "blocked"))[0]["Containers"] == {}
        assert dns_servers(npc) == []
    finally:
        holder.kill()
        holder.wait()
        npc("network", "rm", "blocked")


def test_name_flags_are_visible_inside(npc):
    npc.out("network", "create", "--subnet", "10.58.0.0/24", "named")
    try:
        out = npc.out("run", "--rm", "--network", "named", "--ip", "10.58.0.50",
                      "--add-host", "db.internal:10.1.2.3", "--add-host", "gw:host-gateway",
                      "--add-host", "v6host=fd00::1", "--dns", "10.9.9.9", "--dns", "10.9.9.10",
                      "--dns-search", "example.test", "--dns-option", "ndots:2",
                      "busybox", "sh", "-c",
                      "ip -o -4 addr show eth0; cat /etc/hosts; echo ---; cat /etc/resolv.conf")
        addr, hosts, resolv = out.partition("\n")[0], *out.partition("\n")[2].split("---\n")
        assert "inet 10.58.0.50/24" in addr
        assert "10.1.2.3\tdb.internal\n" in hosts and "10.58.0.1\tgw\n" in hosts
        assert "fd00::1\tv6host\n" in hosts
        assert resolv == ("nameserver 10.9.9.9\nnameserver 10.9.9.10\nsearch example.test\n"
                          "options ndots:2\n")
        # and without a network: /etc/hosts and resolv.conf all the same
        out = npc.out("run", "--rm", "--add-host", "db:10.1.2.3", "--dns", "10.9.9.9",
                      "--dns-search", ".", "busybox", "cat", "/etc/hosts", "/etc/resolv.conf")
        assert "10.1.2.3\tdb\n" in out and out.endswith("nameserver 10.9.9.9\n")
        # --ip of a running container is taken
        npc.out("run", "-d", "--name", "holder", "--network", "named", "--ip", "10.58.0.7",
                "busybox", "sleep", "60")
        for flags, message in [
            (("--network", "named", "--ip", "10.58.0.7"), "already in use on network named"),
            (("--network", "named", "--ip", "10.59.0.7"), "not a free host address"),
            (("--network", "named", "--ip", "10.58.0.1"), "not a free host address"),
            (("--network", "named", "--ip", "nonsense"), "invalid --ip"),
            (("--network", "bridge", "--ip", "10.88.0.9"), "user networks only"),
            (("--ip", "10.58.0.9"), "need a user network"),
            (("--add-host", "nocolon"), "invalid --add-host"),
            (("--add-host", "bad_name:10.0.0.1"), "invalid --add-host"),
            (("--add-host", "x:999.1.1.1"), "not an IP address"),
            (("--add-host", "x:host-gateway"), "host-gateway needs a bridge network"),
            (("--dns", "not-an-ip"), "invalid --dns"),
            (("--dns-search", "bad domain"), "invalid --dns-search"),
            (("--dns-option", "a b"), "invalid --dns-option"),
        ]:
            result = npc("run", "--rm", *flags, "busybox", "true")
            assert result.returncode == 125 and message in result.stderr, (flags, result.stderr)
            assert result.stderr.startswith("pycontain: ") and result.stderr.count("\n") == 1
        members = json.loads(npc.out("network", "inspect", "named"))[0]["Containers"]
        assert [c["IPv4Address"] for c in members.values()] == ["10.58.0.7"]
    finally:
        npc("rm", "-f", "holder")
        npc("network", "rm", "named")
