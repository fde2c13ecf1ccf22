"""Load helpers for bench/fn_serve.py and bench/fn_soak.py: closed-loop
clients, a server to load, percentiles, the CPU a zygote's side spends, and
the result table."""
import http.client
import os
import threading
import time

from pycontain.fn.server.memory import children

EVENT = b'{"name": "John Doe"}'
INVOKE = "/2015-03-31/functions/{}/invocations"


def percentile(values: list, q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


class Run:
    """What one load step measured: per-call ms, failures, wall time, CPU ms."""

    def __init__(self, label: str, clients: int, functions: int):
        self.label, self.clients, self.functions = label, clients, functions
        self.samples, self.failures, self.errors = [], 0, []
        self.elapsed, self.cpu_ms = 0.0, float("nan")
        self.done = None  # calls that succeeded, when no latencies were kept

    @property
    def ok(self) -> int:
        return len(self.samples) if self.done is None else self.done

    @property
    def calls(self) -> int:
        return self.ok + self.failures

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else float("nan")


def clients(run: Run, make_call, per_client: int) -> Run:
    """run.clients threads start at once (a burst), each making per_client
    calls back to back with its own make_call(i)(); a call that raises is a failure."""
    lock, gate = threading.Lock(), threading.Barrier(run.clients + 1)

    def client(i):
        call = make_call(i)
        mine, failed, errors = [], 0, []
        gate.wait()
        for _ in range(per_client):
            start = time.perf_counter()
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - counted, the first few kept
                failed += 1
                errors.append(repr(exc)[:200])
                continue
            mine.append((time.perf_counter() - start) * 1000)
        with lock:
            run.samples += mine
            run.failures += failed
            run.errors += errors[:3]
    threads = [threading.Thread(target=client, args=(i,)) for i in range(run.clients)]
    for t in threads:
        t.start()
    gate.wait()
    start = time.monotonic()
    for t in threads:
        t.join()
    run.elapsed = time.monotonic() - start
    return run


def http_call(port: int, name: str, check=b"Hello"):
    """A keep-alive client calling function name; a failed call raises."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call():
        conn.request("POST", INVOKE.format(name), EVENT)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or check not in body:
            raise RuntimeError(f"{response.status} {body[:200]!r}")
    return call


def start_server(*args) -> tuple:
    """`pycontain fn serve` on a free loopback port: (process, port); its log
    is read and dropped."""
    import re
    import subprocess
    from common import PYCONTAIN
    server = subprocess.Popen([PYCONTAIN, "fn", "serve", "--port", "0", *args],
                              stderr=subprocess.PIPE, text=True)
    line = server.stderr.readline()
    match = re.search(r":(\d+) ", line)
    if not match:
        server.kill()
        server.wait()
        raise RuntimeError(f"fn serve did not start: {line}")
    threading.Thread(target=server.stderr.read, daemon=True).start()
    return server, int(match.group(1))


def status(port: int) -> dict:
    import json
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status") as r:
        return json.load(r)


def _stat(pid: int) -> list:
    """The fields of /proc/PID/stat after the command name (proc(5) field 3 on)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of pid (and of its reaped children) in seconds; 0 if gone."""
    try:
        fields = _stat(pid)
    except FileNotFoundError:
        return 0.0
    return sum(int(x) for x in fields[11:15 if children else 13]) / os.sysconf("SC_CLK_TCK")


def _started(pid: int) -> float:
    try:
        return int(_stat(pid)[19])
    except FileNotFoundError:
        return float("inf")


def jail_side_cpu(zygote_pids) -> float:
    """CPU seconds of zygotes, the calls they reaped and their forkers (each
    zygote's oldest child)."""
    total = 0.0
    for pid in zygote_pids:
        kids = children(pid)
        total += cpu_seconds(pid, True) + (cpu_seconds(min(kids, key=_started)) if kids else 0)
    return total


def print_table(runs: list) -> None:
    print(f"| {'path':<44} | cli | fns | calls | fail | {'p50':>6} | {'p90':>6} | "
          f"{'p99':>6} | {'max':>7} | calls/s | CPU ms/call |")
    print(f"|{'-' * 46}|-----|-----|-------|------|--------|--------|--------|---------|"
          "---------|-------------|")
    for r in runs:
        q = [percentile(r.samples, p) for p in (0.5, 0.9, 0.99, 1.0)]
        print(f"| {r.label:<44} | {r.clients:>3} | {r.functions:>3} | {r.calls:>5} | "
              f"{r.failures:>4} | {q[0]:6.2f} | {q[1]:6.2f} | {q[2]:6.2f} | {q[3]:7.2f} | "
              f"{r.rate:7.0f} | {r.cpu_ms:11.2f} |")
    for r in runs:
        for error in r.errors[:3]:
            print(f"  {r.label}: {error}")
