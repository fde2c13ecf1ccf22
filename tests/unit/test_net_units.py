"""Networking logic that needs no root: port specs, address leases, hosts files, subnets."""
import concurrent.futures

import pytest

from pycontain.errors import PycontainError
from pycontain.net import api, config, hosts, ipam
from pycontain.net.ports import exposed, format_port, parse_publish, requested


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PYCONTAIN_ROOT", str(tmp_path))
    return tmp_path


def test_parse_publish_forms():
    assert parse_publish("8080:80") == {"host_ip": "", "host_port": 8080,
                                        "container_port": 80, "proto": "tcp"}
    assert parse_publish("127.0.0.1::53/udp") == {"host_ip": "127.0.0.1", "host_port": 0,
                                                  "container_port": 53, "proto": "udp"}
    assert parse_publish("80")["host_port"] == 0
    assert format_port(parse_publish("127.0.0.1:81:80")) == "80/tcp -> 127.0.0.1:81"
    for bad in ("", "x:80", "80:0", "80/icmp", "1.2.3:80:80", "80-81:80"):
        with pytest.raises(PycontainError):
            parse_publish(bad)


def test_publish_all_takes_image_and_flag_ports_once():
    ports = requested(["8080:80"], True, {"ExposedPorts": {"80/tcp": {}, "53/udp": {}}}, ["9000"])
    assert [(p["container_port"], p["proto"], p["host_port"]) for p in ports] == [
        (80, "tcp", 8080), (53, "udp", 0), (9000, "tcp", 0)]
    assert exposed({}, ["80", "80/tcp"]) == [parse_publish("80")]


def _lease(i):
    return {"cid": f"{i:064x}", "name": f"n{i}", "hostname": f"h{i}", "veth": "v", "ifname": "eth0"}


def test_ipam_never_hands_out_an_address_twice(store):
    definition = config.load("bridge")

    def take(i):
        with ipam.locked("bridge"):
            return ipam.allocate(definition, _lease(i))
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        got = list(pool.map(take, range(60)))
    assert len(set(got)) == 60 and "10.88.0.1" not in got
    with ipam.locked("bridge"):
        assert [v["address"] for v in ipam.release("bridge", _lease(7)["cid"])] == [got[7]]
        assert ipam.allocate(definition, _lease(99)) == got[7]  # the lowest free one again
    assert ipam.networks_of(_lease(8)["cid"]) == ["bridge"]
    # the MAC comes with the address: whoever gets it back answers to the cached MAC
    assert ipam.leases("bridge")[got[7]]["mac"] == ipam.mac_address(got[7])
    assert ipam.mac_address("10.88.1.254") == "02:42:0a:58:01:fe"


def test_ipam_full_network(store):
    definition = config.save(config.describe("tiny", "10.5.0.0/30", "b", True, True))
    with ipam.locked("tiny"):
        assert ipam.allocate(definition, _lease(1)) == "10.5.0.2"
        with pytest.raises(PycontainError, match="no free address"):
            ipam.allocate(definition, _lease(2))


def test_hosts_render_lists_self_and_named_peers():
    dns = {"dns": True}
    table = {"10.1.0.2": _lease(1), "10.1.0.3": _lease(2)}
    text = hosts.render(_lease(1)["cid"], {"net": (dns, table)})
    assert "10.1.0.2\th1 n1\n" in text and "10.1.0.3\tn2 h2\n" in text
    assert "n2" not in hosts.render(_lease(1)["cid"], {"net": ({"dns": False}, table)})


def test_subnet_choice(store, monkeypatch):
    monkeypatch.setattr(api, "_host_routes", lambda: [])
    first = api.create("one")
    assert first["subnet"] == "10.89.0.0/24" and first["gateway"] == "10.89.0.1"
    assert api.create("two")["subnet"] == "10.89.1.0/24"
    with pytest.raises(PycontainError, match="overlaps"):
        api.create("three", "10.88.5.0/24")
    with pytest.raises(PycontainError, match="already exists"):
        api.create("one")
    assert [r["Name"] for r in api.listing()] == ["bridge", "one", "two", "host", "none"]


def test_concurrent_first_use_of_the_default_network(store):
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        ids = {d["id"] for d in pool.map(lambda _: config.load("bridge"), range(32))}
    assert len(ids) == 1 and config.names() == ["bridge"]


HOST_RESOLV = ("# managed\nnameserver 127.0.0.53\nnameserver 192.0.2.1\ndomain old.test\n"
               "search corp.test lab.test\noptions edns0 trust-ad\n")


def test_resolv_conf_keeps_or_replaces_the_hosts_settings():
    from pycontain.engine.hostfiles import resolv_conf
    assert resolv_conf(HOST_RESOLV) == ("nameserver 192.0.2.1\nsearch corp.test lab.test\n"
                                        "options edns0 trust-ad\n")
    assert resolv_conf(HOST_RESOLV, ["10.89.0.1"]) == (
        "nameserver 10.89.0.1\nsearch corp.test lab.test\noptions edns0 trust-ad\n")
    assert resolv_conf(HOST_RESOLV, ["10.9.9.9"], ["."], ["ndots:2"]) == (
        "nameserver 10.9.9.9\noptions ndots:2\n")
    assert resolv_conf(HOST_RESOLV, loopback=True).startswith("nameserver 127.0.0.53\n")


def test_add_host_specs():
    from pycontain.engine.hostfiles import extra_hosts
    assert extra_hosts(["db:10.0.0.5", "v6=fd00::1", "gw:host-gateway"], "10.88.0.1") == [
        ["db", "10.0.0.5"], ["v6", "fd00::1"], ["gw", "10.88.0.1"]]
    for bad in ("db", "db:", ":10.0.0.1", "d b:10.0.0.1", "db:10.0.0", "db:host-gateway"):
        with pytest.raises(PycontainError):
            extra_hosts([bad], "")


def test_requested_address_is_checked_against_the_leases(store):
    definition = config.describe("web", "10.7.0.0/24", "pcbr-x", True, dns=True)
    config.save(definition)
    with ipam.locked("web"):
        assert ipam.allocate(definition, _lease(1), "10.7.0.9") == "10.7.0.9"
        for wanted, message in (("10.7.0.9", "already in use"), ("10.7.0.255", "not a host"),
                                ("10.7.0.1", "already in use"), ("10.8.0.3", "not a host")):
            with pytest.raises(PycontainError, match=message):
                ipam.allocate(definition, _lease(2), wanted)
        assert ipam.allocate(definition, _lease(3)) == "10.7.0.2"
