"""Replacing a container on a user network: its peers reach the new one at once.

The replacement gets the old one's address back (lowest free lease); if its
MAC differed, peers would keep sending to the old MAC from their neighbour
caches until the entry went stale (~50 s). The engine derives the MAC from the
IPv4 address (02:42:<address>), so the cached entry stays right.
"""
import json
import time

# the peer asks b for its host name every ~50 ms and logs "<uptime> ok <answer>" or "<uptime> fail"
POLLER = ("while :; do t=$(cut -d' ' -f1 /proc/uptime); "
          "if r=$(timeout 2 wget -qO- http://b:8080/hostname); then echo \"$t ok $r\"; "
          "else echo \"$t fail\"; fi; sleep 0.05; done >/poll.log 2>/dev/null")


def uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def poll_log(npc) -> list:
    """(uptime, answer or None) per request the peer made."""
    rows = []
    for line in npc.out("exec", "a", "cat", "/poll.log").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            rows.append((float(parts[0]), parts[2] if parts[1] == "ok" else None))
    return rows


def wait_for(npc, answer: str, after: float, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = poll_log(npc)
        if any(t >= after and r == answer for t, r in rows):
            return rows
        time.sleep(0.2)
    return poll_log(npc)


def service(npc, hostname: str) -> None:
    npc.out("run", "-d", "--name", "b", "--hostname", hostname, "--network", "web",
            "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc")


def test_replaced_container_is_reachable_at_once(npc):
    npc.out("network", "create", "web")
    try:
        service(npc, "first")
        npc.out("run", "-d", "--name", "a", "--network", "web", "busybox", "sh", "-c", POLLER)
        assert any(r == "first" for _, r in wait_for(npc, "first", 0, 20))
        old = json.loads(npc.out("network", "inspect", "web"))[0]["Containers"]
        npc.out("rm", "-f", "b")
        service(npc, "second")
        running = uptime()  # `run -d` has returned: the new b is running
        rows = wait_for(npc, "second", running + 0.5, 70)
        answered = [t for t, r in rows if t >= running and r == "second"]
        failed = [t for t, r in rows if t >= running and r is None]
        outage = (answered[0] - running) if failed and answered else 0.0
        print(f"outage after the replacement: {outage:.2f} s ({len(failed)} failed requests)")
        assert answered, "the replacement never answered"
        assert not failed, f"{len(failed)} requests failed; outage {outage:.2f} s"
        new = json.loads(npc.out("network", "inspect", "web"))[0]["Containers"]
        (before,), (after,) = ([c for c in m.values() if c["Name"] == "b"] for m in (old, new))
        assert before["IPv4Address"] == after["IPv4Address"]  # same address, same MAC
        assert before["MacAddress"] == after["MacAddress"]
        octets = [int(x) for x in after["IPv4Address"].split(".")]
        assert after["MacAddress"] == "02:42:" + ":".join(f"{x:02x}" for x in octets)
        inside = npc.out("exec", "b", "cat", "/sys/class/net/eth0/address").strip()
        assert inside == after["MacAddress"]
    finally:
        npc("rm", "-f", "a", "b")
        npc("network", "rm", "web")
