#!/usr/bin/env python3
"""A soak of `pycontain fn serve`: calls at a steady rate (by default half
the maximum measured first, 8 clients for 5 s) spread over 4 functions for
--minutes, through HTTP on loopback. Reports failed calls, latency in the
first and the last minute, the server's memory (PSS) over time, and what
it holds before and after the load: processes in its tree, call cgroups,
mounts under the store, descriptors; once it stopped, what is left of it.
Run as root: bench/fn_soak.py --minutes 30 [--rate CALLS_PER_S]."""
import argparse
import os
import shutil
import threading
import time

from fn_load import Run, clients, http_call, percentile, start_server, status
from fn_serve import make_functions, private_store

from pycontain.fn.server.memory import tree

FUNCTIONS = [f"bench-{i}" for i in range(4)]
CLIENTS = 16  # each keeps its share of the rate; a late call is not made up for


def call_cgroups(server_pid: int) -> int:
    """Call cgroups of server_pid's pools (fn<pid>.<start>x...) in every hierarchy."""
    count = 0
    for directory, dirs, _ in os.walk("/sys/fs/cgroup"):
        count += sum(d.startswith(f"fn{server_pid}.") for d in dirs)
        dirs[:] = [d for d in dirs if not d.startswith("fn")]
        if directory.count("/") > 6:
            dirs[:] = []
    return count


def held(server_pid: int, port: int, work: str) -> dict:
    """What the server holds now: processes (its own and its zygotes' trees:
    zygotes are not its children), network namespaces among them, call
    cgroups, mounts under work, its descriptors."""
    zygotes = [f["zygote_pid"] for f in status(port)["functions"].values() if f["warm"]]
    pids = [server_pid] + [p for z in zygotes for p in tree(z)]
    nets = set()
    for pid in pids:
        try:
            nets.add(os.stat(f"/proc/{pid}/ns/net").st_ino)
        except FileNotFoundError:
            pass
    with open("/proc/self/mountinfo") as f:
        mounts = sum(work in line for line in f)
    return {"processes": len(pids), "netns": len(nets), "cgroups": call_cgroups(server_pid),
            "mounts": mounts, "server fds": len(os.listdir(f"/proc/{server_pid}/fd"))}


def left_behind(work: str, server_pid: int) -> dict:
    """After the server stopped: processes whose mounts are under work, its
    call cgroups, mounts under work."""
    procs = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/mountinfo") as f:
                procs += work in f.read()
        except OSError:  # gone, or going (EINVAL)
            pass
    with open("/proc/self/mountinfo") as f:
        mounts = sum(work in line for line in f)
    return {"processes": procs, "cgroups": call_cgroups(server_pid), "mounts": mounts}


def paced(port: int, rate: float, seconds: float, samples: list, failures: list) -> None:
    """CLIENTS threads, each calling at rate / CLIENTS per second for seconds:
    (monotonic time, ms) of each call into samples, failures counted."""
    gap, stop = CLIENTS / rate, time.monotonic() + seconds

    def client(i):
        call = http_call(port, FUNCTIONS[i % len(FUNCTIONS)])
        due = time.monotonic() + gap * i / CLIENTS
        while due < stop:
            time.sleep(max(0.0, due - time.monotonic()))
            start = time.perf_counter()
            try:
                call()
                samples.append((time.monotonic(), (time.perf_counter() - start) * 1000))
            except Exception as exc:  # noqa: BLE001 - counted, reported
                failures.append(repr(exc)[:200])
                call = http_call(port, FUNCTIONS[i % len(FUNCTIONS)])
            due += gap
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, help="calls/s (default: half the maximum)")
    args = parser.parse_args()
    work = private_store("soak")
    server = None
    try:
        make_functions(work, boto=False)
        server, port = start_server()
        for name in FUNCTIONS:
            http_call(port, name)()
        rate = args.rate
        if rate is None:
            probe = clients(Run("max", 8, len(FUNCTIONS)),
                            lambda i: http_call(port, FUNCTIONS[i % len(FUNCTIONS)]), 100)
            rate = probe.rate / 2
            print(f"maximum {probe.rate:.0f} calls/s (8 clients, {probe.calls} calls): "
                  f"soaking at {rate:.0f}")
        time.sleep(3)
        before, memory = held(server.pid, port, work), [status(port)["server"]]
        samples, failures, seconds = [], [], args.minutes * 60
        load = threading.Thread(target=paced, args=(port, rate, seconds, samples, failures))
        start = time.monotonic()
        load.start()
        while load.is_alive():
            load.join(min(60.0, seconds / 10))
            memory.append(status(port)["server"])
        time.sleep(3)  # the last calls' processes and cgroups are gone
        after = held(server.pid, port, work)
        report(samples, failures, start, memory, before, after, rate, seconds)
        pid = server.pid
        server.terminate()
        print(f"server exit status {server.wait()}; left behind: {left_behind(work, pid)}")
        server = None
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


def report(samples, failures, start, memory, before, after, rate, seconds) -> None:
    window = min(60.0, seconds / 4)
    first = [ms for t, ms in samples if t - start < window]
    last = [ms for t, ms in samples if t - start >= seconds - window]
    print(f"\nsoak: {seconds / 60:.1f} min at {rate:.0f} calls/s over {len(FUNCTIONS)} "
          f"functions: {len(samples)} calls, {len(failures)} failed "
          f"({len(samples) / seconds:.0f} calls/s done)")
    for error in failures[:3]:
        print(f"  {error}")
    print("| window | calls | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|")
    for label, part in ((f"first {window:.0f} s", first), (f"last {window:.0f} s", last)):
        print(f"| {label} | {len(part)} | {percentile(part, .5):.2f} | "
              f"{percentile(part, .9):.2f} | {percentile(part, .99):.2f} |")
    if first and last:
        print(f"p50 last/first: {percentile(last, .5) / percentile(first, .5):.2f}")
    for kind in ("private_kib", "pss_kib"):
        kib = [m[kind] for m in memory]
        print(f"server {kind} over time: {kib}; growth {(kib[-1] - kib[0]) * 100 / kib[0]:+.1f}%")
    print(f"server threads {memory[0]['threads']} -> {memory[-1]['threads']}, fds "
          f"{memory[0]['fds']} -> {memory[-1]['fds']}")
    print(f"held before the load: {before}\nheld after the load:  {after}")


if __name__ == "__main__":
    main()
