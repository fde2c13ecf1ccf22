#!/usr/bin/env python3
"""Warm calls through `fn serve`'s zygotes, a fresh jail per call: direct
(ZygotePool.invoke in this process) and through HTTP (`pycontain fn serve`,
a keep-alive connection per client thread), against `bwrap --unshare-all
/usr/bin/python3` running the same handler per call. Latency = sequential
calls; calls/s = THREADS clients at once, and the CPU time each direct call costs
the engine and the zygote's side (zygote, forker, the call's jail; not the
kernel's workqueues, which free its network namespace). Run as root:
bench/fn_serve.py [CALLS] [THREADS]. Builds a private store with the python image."""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

from common import PYCONTAIN, REPO
from fn_exec import EVENT, HANDLER, bwrap_command
from fork_floor import SETTLE, latency

sys.path.append(str(REPO))  # after the installed pycontain, which has its C extension built


def percentile(values: list, q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def throughput(make_call, threads: int, seconds: float = 3.0) -> float:
    time.sleep(SETTLE)
    count, stop = [0] * threads, time.monotonic() + seconds

    def worker(i):
        call = make_call()
        while time.monotonic() < stop:
            call()
            count[i] += 1
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(count) / (time.monotonic() - start)


def _stat(pid: int) -> list:
    """The fields of /proc/PID/stat after the command name (proc(5) field 3 on)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _cpu_seconds(pid: int, children: bool) -> float:
    """utime + stime of pid (and of its reaped children) in seconds."""
    fields = _stat(pid)
    return sum(int(x) for x in fields[11:15 if children else 13]) / os.sysconf("SC_CLK_TCK")


def _started(pid: int) -> float:
    """When pid started (clock ticks since boot); infinity if it is gone meanwhile."""
    try:
        return int(_stat(pid)[19])
    except FileNotFoundError:  # a spare that just ended
        return float("inf")


def jail_side_cpu(zygote_pid: int) -> float:
    """CPU seconds of a zygote, the calls it reaped and its forker (its oldest child)."""
    with open(f"/proc/{zygote_pid}/task/{zygote_pid}/children") as f:
        kids = [int(p) for p in f.read().split()]
    return _cpu_seconds(zygote_pid, True) + _cpu_seconds(min(kids, key=_started), False)


def http_call(port: int):
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def call():
        conn.request("POST", "/2015-03-31/functions/bench/invocations", EVENT)
        response = conn.getresponse()
        assert response.status == 200 and b"Hello" in response.read()
    return call


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    work = tempfile.mkdtemp(prefix="pycontain-bench-serve-")
    os.chmod(work, 0o755)
    os.environ.update(PYCONTAIN_ROOT=f"{work}/data", PYCONTAIN_RUNROOT=f"{work}/run")
    server = None
    try:
        subprocess.run([sys.executable, str(REPO / "rootfs" / "build.py"), f"{work}/layouts",
                        "python"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([PYCONTAIN, "import", f"oci:{work}/layouts/python",
                        "localhost/python:latest"], check=True, stdout=subprocess.DEVNULL)
        handler = os.path.join(work, "handler.py")
        with open(handler, "w") as f:
            f.write(HANDLER)
        with zipfile.ZipFile(f"{work}/fn.zip", "w") as z:
            z.write(handler, "handler.py")
        from pycontain.fn import functions
        from pycontain.fn.zygote_pool import ZygotePool
        functions.create("bench", f"{work}/fn.zip", "handler.handler")
        rows = []

        pool = ZygotePool(max_concurrency=64)
        done = [0]

        def direct():
            out = pool.invoke("bench", EVENT)
            assert out.function_error is None and b"Hello" in out.payload, out.payload
            done[0] += 1
        try:  # closed whatever happens: its call cgroups go with it
            samples = latency(direct, calls)
            zygote_pid = pool.status()["functions"]["bench"]["zygote_pid"]
            before, done[0] = (sum(os.times()[:2]), jail_side_cpu(zygote_pid)), 0
            rows.append(("zygote, direct (ZygotePool.invoke)", samples,
                         throughput(lambda: direct, threads)))
            cpu = [(after - start) * 1000 / done[0] for start, after in
                   zip(before, (sum(os.times()[:2]), jail_side_cpu(zygote_pid)))]
        finally:
            pool.close()

        server = subprocess.Popen([PYCONTAIN, "fn", "serve", "--port", "0"],
                                  stderr=subprocess.PIPE, text=True)
        port = int(re.search(r":(\d+) ", server.stderr.readline()).group(1))
        threading.Thread(target=server.stderr.read, daemon=True).start()
        rows.append(("zygote, HTTP Invoke API (http.client)", latency(http_call(port), calls),
                     throughput(lambda: http_call(port), threads)))

        floor = json.loads(subprocess.run(
            [sys.executable, "-I", str(REPO / "bench" / "fork_floor.py"), HANDLER,
             EVENT.decode(), str(calls), str(threads)], check=True, capture_output=True).stdout)
        rows.append(("floor: fork + fresh namespaces, no jail", floor["samples"], floor["rate"]))

        cmd = bwrap_command(handler)

        def bwrap():
            subprocess.run(cmd, input=EVENT, check=True, stdout=subprocess.DEVNULL)
        rows.append(("bwrap --unshare-all python3 per call", latency(bwrap, max(calls // 5, 50)),
                     throughput(lambda: bwrap, threads)))

        print(f"\nfn serve: warm calls, a fresh jail per call ({calls} sequential calls for "
              f"latency, {threads} concurrent clients for calls/s, {os.cpu_count()} CPUs)")
        print(f"| {'path':<40} | {'p50 ms':>7} | {'p99 ms':>7} | {'calls/s':>8} |")
        print(f"|{'-' * 42}|{'-' * 9}|{'-' * 9}|{'-' * 10}|")
        for label, samples, rate in rows:
            print(f"| {label:<40} | {percentile(samples, 0.5):7.2f} | "
                  f"{percentile(samples, 0.99):7.2f} | {rate:8.0f} |")
        print(f"\nCPU per direct call ({threads} clients): engine {cpu[0]:.2f} ms, "
              f"zygote + forker + the call's jail {cpu[1]:.2f} ms")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
