#!/usr/bin/env python3
"""`kube play` of the issue's classic app, inside a private network namespace:
run as root, bench/kube.py [ROUNDS] [REQUESTS].

1. Time from `kube play` (a Deployment of 3 busybox httpd replicas with a
   tcpSocket readiness probe, and a LoadBalancer Service 80 -> 8080) to all 3
   replicas ready (the pods' records, polled every 5 ms), ROUNDS times, each
   followed by an untimed `kube down`.
2. HTTP requests, one connection each (connect, GET, read to the end), one
   client after the other: through the Service (127.0.0.1:80: nftables DNAT
   spread by `numgen random` over the ready pods) against directly to one pod
   (its address:8080, the anchor), REQUESTS of each, interleaved. p50, p99 and
   requests/s. The issue's target: the Service's p50 within 1.2x of direct.
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from common import PYCONTAIN, REPO, in_private_netns

APP = (REPO / "tests" / "integration" / "kube-my-app.yaml").read_text()  # as the tests


def pycontain(*args) -> str:
    return subprocess.run([PYCONTAIN, *args], check=True, capture_output=True,
                          text=True).stdout


def ready_pods() -> list:
    return [p for p in json.loads(pycontain("kube", "ps", "--format", "json"))["pods"]
            if p["ready"]]


def play_to_ready(path: str) -> float:
    """ms from starting `kube play` to 3 ready replicas (their records say so)."""
    from pycontain.kube import store
    start = time.perf_counter()
    pycontain("kube", "play", path)
    while sum(bool(p["ready"]) for p in store.pods()) < 3:
        time.sleep(0.005)
    return (time.perf_counter() - start) * 1000


def request(address: tuple) -> float:
    """ms for one HTTP/1.0 GET on a fresh connection, answer read to the end."""
    start = time.perf_counter()
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    if not answer.startswith(b"HTTP/1.") or b" 200 " not in answer.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"bad answer from {address}: {answer[:60]!r}")
    return (time.perf_counter() - start) * 1000


def row(label: str, values: list, base: float | None) -> str:
    values = sorted(values)
    p50 = statistics.median(values)
    p99 = values[max(0, int(len(values) * 0.99) - 1)]
    rate = len(values) / (sum(values) / 1000)
    ratio = f"{p50 / base:.2f}x" if base else "1.00x (anchor)"
    return f"| {label:<42} | {p50:7.3f} | {p99:7.3f} | {rate:8.0f} | {ratio:>14} |"


def main() -> None:
    in_private_netns()
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "app.yaml")
        with open(path, "w") as f:
            f.write(APP)
        ready = []
        for i in range(rounds):
            ready.append(play_to_ready(path))
            if i < rounds - 1:
                pycontain("kube", "down", path)
        try:
            pod_ip = ready_pods()[0]["ip"]
            service, direct = ("127.0.0.1", 80), (pod_ip, 8080)
            for address in (service, direct):
                for _ in range(50):
                    request(address)  # warm-up
            samples = {"service": [], "direct": []}
            for _ in range(count):
                samples["service"].append(request(service))
                samples["direct"].append(request(direct))
        finally:
            pycontain("kube", "down", path)
    print(f"\n`kube play` to 3 ready replicas, {rounds} rounds: median "
          f"{statistics.median(ready):.0f} ms (min {min(ready):.0f}, max {max(ready):.0f})")
    print(f"\nHTTP GET, a connection each, {count} interleaved requests per path, one client")
    print(f"| {'path':<42} | {'p50 ms':>7} | {'p99 ms':>7} | {'req/s':>8} | {'p50 ratio':>14} |")
    print(f"|{'-' * 44}|{'-' * 9}|{'-' * 9}|{'-' * 10}|{'-' * 16}|")
    base = statistics.median(samples["direct"])
    print(row(f"direct to one pod {pod_ip}:8080", samples["direct"], None))
    print(row("Service 127.0.0.1:80 (3 replicas)", samples["service"], base))


if __name__ == "__main__":
    main()
