"""Published ports (-p, -P, `pycontain port`), inside the test's own network namespace."""
import subprocess
import sys

from conftest import DEFAULT_NAT_TABLE
from test_net_bridge import HTTPD, in_ns


def wget(npc, url: str) -> str:
    """Fetch url from the test namespace's host side, retrying while httpd starts."""
    script = (f"for i in $(seq 50); do timeout 5 busybox wget -qO- {url} && exit 0; sleep 0.1; "
              "done; exit 1")
    result = in_ns(npc, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_published_port_answers_on_localhost_and_to_containers(npc):
    npc.out("run", "-d", "--name", "web", "--network", "bridge", "-p", "8080:80", "busybox",
            "sh", "-c", HTTPD.format("web"))
    try:
        assert npc.out("port", "web") == "80/tcp -> 0.0.0.0:8080\n"
        assert wget(npc, "http://127.0.0.1:8080/index.html") == "hello-from-web\n"
        # another container reaches it through the host's (gateway's) published port
        out = npc.out("run", "--rm", "--network", "bridge", "busybox", "sh", "-c",
                      "timeout 5 wget -qO- http://10.88.0.1:8080/index.html; exit $?")
        assert out == "hello-from-web\n"
        # and the container itself, hairpin
        assert npc.out("exec", "web", "timeout", "5", "wget", "-qO-",
                       "http://10.88.0.1:8080/index.html") == "hello-from-web\n"
    finally:
        npc("rm", "-f", "web")
    assert in_ns(npc, "nft", "list", "tables").stdout == DEFAULT_NAT_TABLE + "\n"
    failed = in_ns(npc, "timeout", "5", "busybox", "wget", "-qO-", "http://127.0.0.1:8080/")
    assert failed.returncode != 0


UDP_ECHO = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('', 53))\nwhile True:\n    data, peer = s.recvfrom(64)\n"
            "    s.sendto(b'pong:' + data, peer)\n")
UDP_ASK = ("import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
           "s.settimeout(0.2)\nfor _ in range(50):\n    s.sendto(b'ping', ('127.0.0.1', 9053))\n"
           "    try:\n        print(s.recv(64).decode()); break\n"
           "    except OSError:\n        pass\n")


def test_publish_on_one_address_and_udp(npc):
    npc.out("run", "-d", "--name", "web1", "--network", "bridge", "-p", "127.0.0.1:9080:80",
            "busybox", "sh", "-c", HTTPD.format("one"))
    npc.out("run", "-d", "--name", "udp", "--network", "bridge", "-p", "127.0.0.1:9053:53/udp",
            "python", "python3", "-c", UDP_ECHO)
    try:
        assert npc.out("port", "web1") == "80/tcp -> 127.0.0.1:9080\n"
        assert npc.out("port", "udp") == "53/udp -> 127.0.0.1:9053\n"
        assert wget(npc, "http://127.0.0.1:9080/index.html") == "hello-from-one\n"
        assert in_ns(npc, sys.executable, "-c", UDP_ASK).stdout == "pong:ping\n"
    finally:
        npc("rm", "-f", "web1", "udp")


def test_publish_all_uses_free_ports(npc):
    npc.out("run", "-d", "--name", "pall", "--network", "bridge", "-P", "--expose", "80",
            "busybox", "sh", "-c", HTTPD.format("pall"))
    try:
        line = npc.out("port", "pall").strip()
        assert line.startswith("80/tcp -> 0.0.0.0:")
        host_port = int(line.rsplit(":", 1)[1])
        assert npc.out("port", "pall", "80").strip() == f"0.0.0.0:{host_port}"
        assert wget(npc, f"http://127.0.0.1:{host_port}/index.html") == "hello-from-pall\n"
    finally:
        npc("rm", "-f", "pall")


def test_port_taken_gives_clear_error_and_leaves_nothing(npc):
    npc.out("run", "-d", "--name", "first", "--network", "bridge", "-p", "8181:80", "busybox",
            "sleep", "60")
    try:
        for args in (("-d", "--name", "second"), ("--rm",)):
            result = npc("run", *args, "--network", "bridge", "-p", "8181:80", "busybox", "true")
            assert result.returncode == 125
            assert result.stderr == ("pycontain: cannot publish 0.0.0.0:8181/tcp: address already "
                                     "in use on the host (is another container or program "
                                     "using it?)\n")
        assert npc.out("ps", "-a", "-q").split() == [npc.out("ps", "-q").split()[0]]
    finally:
        npc("rm", "-f", "first")
    # a port some other program holds on the (namespace's) host is refused too
    holder = subprocess.Popen([*npc.prefix, "busybox", "nc", "-l", "-p", "8282"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            result = npc("run", "--rm", "--network", "bridge", "-p", "8282:80", "busybox", "true")
            if result.returncode != 0:
                break
        assert result.returncode == 125 and "8282/tcp: address already in use" in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_bad_publish_flags(npc):
    for flags, message in [
        (("--network", "bridge", "-p", "80:80/sctp"), "invalid protocol"),
        (("--network", "bridge", "-p", "99999:80"), "invalid port"),
        (("--network", "bridge", "-p", "8000-8010:80"), "port ranges are not supported"),
        (("--network", "bridge", "-p", "300.1.1.1:80:80"), "invalid IPv4 address"),
        (("--network", "none", "-p", "80:80"), "cannot publish ports with --network none"),
        (("--network", "host", "-p", "80:80"), "cannot publish ports with --network host"),
    ]:
        result = npc("run", "--rm", *flags, "busybox", "true")
        assert result.returncode == 125 and message in result.stderr, (flags, result.stderr)

