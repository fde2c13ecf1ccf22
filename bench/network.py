#!/usr/bin/env python3
"""Networking costs, measured inside a private network namespace (the host's
network is never touched): run as root, bench/network.py [ROUNDS].

1. Start latency: `run --rm -p 8080:80 busybox true` (no --network: the
   default bridge network) and `run --rm --network bridge busybox true` vs
   `--network none`, each run once the previous one's veth pair is gone (the
   kernel deletes it with the container's namespace, after `run` returned),
   and -p back to back, paying that deletion; podman's `run --rm -p 8080:80`
   (runc, netavark, inside the same private network namespace) vs its
   `--network none`.
2. First byte of an HTTP answer from busybox httpd: through the published port
   127.0.0.1:HOSTPORT (nftables DNAT), directly to the container's address, and
   through a minimal userspace proxy (a thread per connection, what docker-proxy
   does) for comparison.
"""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

from common import (PYCONTAIN, REPO, in_private_netns, measure, print_table,
                    time_once)

sys.path.insert(0, str(REPO / "tests" / "integration"))
from runc.callers import Podman  # noqa: E402  (the harness the tests use)

HTTPD = "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"
PROXY_PORT = 8081


def pycontain(*args) -> str:
    return subprocess.run([PYCONTAIN, *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def first_byte(address: tuple) -> float:
    """ms from connect() to the first byte of the answer to a GET."""
    start = time.perf_counter()
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        if not sock.recv(1):
            raise RuntimeError(f"no answer from {address}")
    return (time.perf_counter() - start) * 1000


def _pump(src, dst) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        dst.close()


def start_proxy(target: tuple) -> socket.socket:
    """A userspace TCP proxy 127.0.0.1:PROXY_PORT -> target, two threads per connection."""
    listener = socket.create_server(("127.0.0.1", PROXY_PORT))

    def serve():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return listener


def settle() -> None:
    """Wait (untimed) until the last run's veth pair is gone: the kernel
    removes it with the container's network namespace just after `run`
    returns, and that work would otherwise slow whichever run comes next."""
    for _ in range(1000):
        with open("/proc/net/dev") as f:
            if "veth" not in f.read():
                return
        time.sleep(0.002)


def wait_for(address: tuple) -> None:
    for _ in range(100):
        try:
            first_byte(address)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{address} never answered")


def podman_samples(rounds: int) -> dict:
    """podman run --rm (runc) with --network none and with -p 8080:80 (netavark:
    its bridge and firewall rules go into this private network namespace)."""
    if not shutil.which("podman"):
        print("podman is not installed: its rows are left out")
        return {}
    podman = Podman(f"pycontain-bench-podman-{os.getpid()}")
    try:
        archive = podman.dir / "busybox.tar"
        subprocess.run([PYCONTAIN, "save", "-o", archive, "busybox"], check=True)
        podman("load", "-i", archive)
        base = [("runc" if arg.endswith("pycontain-runc") else arg) for arg in podman.base]
        flags = [f for f in podman.run_flags if f not in ("--network", "none")]
        cases = {
            "podman run --rm --network none busybox true": lambda: time_once(
                [*base, "run", "--rm", *podman.run_flags, "busybox", "true"]),
            "podman run --rm -p 8080:80 busybox true": lambda: time_once(
                [*base, "run", "--rm", "-p", "8080:80", *flags, "busybox", "true"]),
        }
        return measure(cases, rounds)
    finally:
        podman.cleanup()


def main() -> None:
    in_private_netns()
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    run = [PYCONTAIN, "run", "--rm"]

    def start(*args):
        def timed():
            settle()
            return time_once(run + [*args, "busybox", "true"])
        return timed
    start_cases = {
        "run --rm --network none busybox true": start("--network", "none"),
        "run --rm -p 8080:80 busybox true": start("-p", "8080:80"),
        "run --rm --network bridge busybox true": start("--network", "bridge"),
    }
    samples = measure(start_cases, rounds)
    back_to_back = run + ["-p", "8080:80", "busybox", "true"]
    samples["... -p, back to back (no settling)"] = measure(
        {"": lambda: time_once(back_to_back)}, rounds)[""]
    pod = podman_samples(rounds)
    web = pycontain("run", "-d", "--network", "bridge", "-p", "8080:80", "busybox", "sh", "-c",
                    HTTPD)
    try:
        print_table(samples, "run --rm --network none busybox true",
                    f"Start latency, {rounds} interleaved rounds")
        if pod:
            print_table(pod, "podman run --rm --network none busybox true",
                        f"podman (runc), {rounds} interleaved rounds")
            print_table({**pod, "pycontain run --rm -p 8080:80": samples[
                "run --rm -p 8080:80 busybox true"]}, "podman run --rm -p 8080:80 busybox true",
                "pycontain -p against podman -p")
        address = pycontain("network", "inspect", "bridge").split('"IPv4Address": "')[1]
        direct = (address.split('"')[0], 80)
        wait_for(("127.0.0.1", 8080))
        proxy = start_proxy(direct)
        wait_for(("127.0.0.1", PROXY_PORT))
        samples = measure({
            "direct to the container's address": lambda: first_byte(direct),
            "published port 127.0.0.1:8080 (nftables DNAT)": lambda: first_byte(
                ("127.0.0.1", 8080)),
            "userspace proxy (for comparison)": lambda: first_byte(("127.0.0.1", PROXY_PORT)),
        }, rounds * 10)
        proxy.close()
        print_table(samples, "direct to the container's address",
                    f"First byte of an HTTP answer, {rounds * 10} interleaved rounds")
    finally:
        pycontain("rm", "-f", web)


if __name__ == "__main__":
    main()
