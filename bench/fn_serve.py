#!/usr/bin/env python3
"""Warm calls through `fn serve`'s zygotes, a fresh jail per call, under
load, in one run: direct (ZygotePool.invoke in this process) and through
HTTP (`pycontain fn serve`, a keep-alive connection per client thread), with
1, 4 and 32 clients against one function and 32 against 8 functions (client
i calls function i % 8); a handler that imports boto3 at module level (its
packages in the function's zip, as Lambda's deployment packages carry them:
first call and warm calls); the floor (bench/fork_floor.py: a warm Python
forking a child with fresh namespaces, no jail: 1 client, and 32 clients in
a burst); and `bwrap --unshare-all
/usr/bin/python3` running the same handler per call. Every client starts at
once (a burst) and makes its calls back to back: 1 client CALLS calls, 4
clients CALLS/4 each, 32 clients BURST each; then 4 clients CALLS each
(seconds of steady calls, as the floor's 4 workers for 3 s: the calls/s
compared with the floor's and the isolated floor's, fork_floor.py ISOLATED,
the floor plus the cheapest form of each property issue 22's item 2 requires,
both measured just before, in PAIRS alternating rounds: the machine is shared
and noisy). CPU per call: the engine (this
process, or the server) plus the zygotes' side (zygote, forker, the calls'
jails), not the kernel's workqueues that free network namespaces. Run as
root: bench/fn_serve.py [CALLS] [BURST] [--direct] (--direct: only the
direct rows and the floor, for before/after comparisons of the call path).
Builds a private store with the python image."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

from common import PYCONTAIN, REPO
from fn_exec import HANDLER, bwrap_command
from fn_load import EVENT, Run, clients, cpu_seconds, http_call, jail_side_cpu, \
    percentile, print_table, start_server, status
from fork_floor import SETTLE

sys.path.append(str(REPO))  # after the installed pycontain, which has its C extension built

FUNCTIONS = 8
DIRECT = "zygote, direct (ZygotePool.invoke)"
# the rate compared with the floor's: as many clients as the floor has workers,
# each making CALLS calls (seconds, like the floor's 3 s, not a burst's short
# run whose start and end weigh in)
STEADY = "zygote, direct, steady (calls/s vs the floor)"
FLOOR_RATE = "floor: same, calls/s (no latencies kept)"
# the floor plus the cheapest form of what item 2 requires and it leaves out
ISOLATED_RATE = "isolated floor (+ item 2's isolation): calls/s"
STEADY_CLIENTS = 4
PAIRS = 3  # steady rows, each after the floors' calls/s: the ratio is their pairs' median
BOTO_HANDLER = ("import boto3\nSESSION = boto3.session.Session()\n"
                "def handler(event, context):\n"
                "    return {'greeting': 'Hello, ' + event['name'],"
                " 'boto3': boto3.__version__}\n")
BOTO_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def _add_package(z: zipfile.ZipFile, name: str) -> bool:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        return False
    if not spec.submodule_search_locations:  # a module (six.py)
        z.write(spec.origin, os.path.basename(spec.origin))
        return True
    top = spec.submodule_search_locations[0]
    for directory, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in files:
            path = os.path.join(directory, f)
            z.write(path, os.path.join(name, os.path.relpath(path, top)))
    return True


def make_functions(work: str, boto: bool = True) -> bool:
    """bench, bench-0..7 (the standard-library handler) and, with boto and when
    this interpreter has boto3 and its dependencies, boto (whether it was made)."""
    from pycontain.fn.registry import functions
    with zipfile.ZipFile(f"{work}/fn.zip", "w") as z:
        z.writestr("handler.py", HANDLER)
    for name in ["bench"] + [f"bench-{i}" for i in range(FUNCTIONS)]:
        functions.create(name, f"{work}/fn.zip", "handler.handler")
    if not boto:
        return False
    with zipfile.ZipFile(f"{work}/boto.zip", "w", zipfile.ZIP_STORED) as z:
        z.writestr("handler.py", BOTO_HANDLER)
        if not all(_add_package(z, p) for p in BOTO_PACKAGES):
            return False
    functions.create("boto", f"{work}/boto.zip", "handler.handler", memory=512, timeout=10)
    return True


def _names(functions: int) -> list:
    return ["bench"] if functions == 1 else [f"bench-{i}" for i in range(functions)]


def direct_runs(calls: int, burst: int, boto: bool) -> list:
    from pycontain.fn.server.zygote_pool import ZygotePool
    pool, runs = ZygotePool(max_concurrency=64), []

    def caller(name):
        def call():
            out = pool.invoke(name, EVENT)
            if out.function_error is not None or b"Hello" not in out.payload:
                raise RuntimeError(out.payload[:200])
        return call
    try:  # closed whatever happens: its call cgroups go with it
        for names in (_names(1), _names(FUNCTIONS)):
            for name in names:  # warm: the zygote started, its spares made
                for _ in range(20):
                    caller(name)()
        for label, n, functions, each in (
                (DIRECT, 1, 1, calls), (DIRECT, 4, 1, calls // 4), (DIRECT, 32, 1, burst),
                (DIRECT, 32, FUNCTIONS, burst),
                *[(STEADY, STEADY_CLIENTS, 1, calls)] * PAIRS):
            if label == STEADY:  # the floors' calls/s just before: the machine as it is now
                runs += [floor_rate(), floor_rate(isolated=True)]
            names = _names(functions)
            zygotes = [pool.status()["functions"][name]["zygote_pid"] for name in names]
            time.sleep(SETTLE)
            before = (sum(os.times()[:2]), jail_side_cpu(zygotes))
            run = clients(Run(label, n, functions),
                          lambda i, names=names: caller(names[i % len(names)]), each)
            spent = sum(os.times()[:2]) - before[0] + jail_side_cpu(zygotes) - before[1]
            run.cpu_ms = spent * 1000 / run.calls
            runs.append(run)
        if boto:
            started = time.perf_counter()
            caller("boto")()  # the zygote's start and the handler's import, then the call
            first = (time.perf_counter() - started) * 1000
            init = pool.status()["functions"]["boto"]["init_ms"]
            time.sleep(SETTLE)
            run = clients(Run(f"boto3 handler, direct (first call {first:.0f} ms, "
                              f"init {init:.0f})", 1, 1), lambda i: caller("boto"), calls // 2)
            runs.append(run)
    finally:
        pool.close()
    return runs


def http_runs(calls: int, burst: int) -> list:
    server, port = start_server()
    runs = []
    try:
        for name in _names(1) + _names(FUNCTIONS):
            call = http_call(port, name)
            for _ in range(20):
                call()
        for n, functions, each in ((1, 1, calls), (4, 1, calls // 4), (32, 1, burst),
                                   (32, FUNCTIONS, burst)):
            names = _names(functions)
            zygotes = [status(port)["functions"][name]["zygote_pid"] for name in names]
            time.sleep(SETTLE)
            before = cpu_seconds(server.pid) + jail_side_cpu(zygotes)
            run = clients(Run("zygote, HTTP Invoke API (http.client)", n, functions),
                          lambda i, names=names: http_call(port, names[i % len(names)]), each)
            spent = cpu_seconds(server.pid) + jail_side_cpu(zygotes) - before
            run.cpu_ms = spent * 1000 / run.calls
            runs.append(run)
    finally:
        server.terminate()
        server.wait()
    return runs


def memory_rows(work: str, created: int = 50, warm: int = 20) -> list:
    """created functions, warm of them called once, for each --spares: the
    PSS and processes per warm function from /status (zygote, forker, spares)."""
    from pycontain.fn.registry import functions
    for i in range(created):
        functions.create(f"mem-{i}", f"{work}/fn.zip", "handler.handler")
    rows = []
    for spares in (4, 2, 0):
        server, port = start_server("--spares", str(spares))
        try:
            for i in range(warm):
                http_call(port, f"mem-{i}")()
            time.sleep(2)  # the spares ordered after the call are made
            now = status(port)
            fns = [f for f in now["functions"].values() if f["warm"]]
            rows.append((spares, len(fns), now["warm_pss_kib"] / len(fns) / 1024,
                         sum(f["memory"]["processes"] for f in fns) / len(fns),
                         now["server"]["pss_kib"] / 1024))
        finally:
            server.terminate()
            server.wait()
    return rows


def _floor(calls: int, workers: int = STEADY_CLIENTS, *options: str) -> dict:
    return json.loads(subprocess.run(
        [sys.executable, "-I", str(REPO / "bench" / "fork_floor.py"), HANDLER,
         EVENT.decode(), str(calls), str(workers), *options],
        check=True, capture_output=True).stdout)


def floor_rate(isolated: bool = False) -> Run:
    """The floor's calls/s (with isolated, the isolated floor's) with as many
    worker processes as the steady row's clients."""
    floor = _floor(0, STEADY_CLIENTS, *["ISOLATED"] * isolated)
    rate = Run(ISOLATED_RATE if isolated else FLOOR_RATE, STEADY_CLIENTS, 1)
    rate.done, rate.elapsed, rate.cpu_ms = floor["calls"], floor["calls"] / floor["rate"], \
        floor["cpu_ms"]
    return rate


def floor_runs(calls: int, burst: int) -> list:
    """The floor's sequential calls and a burst of 32 clients (its calls/s:
    floor_rate)."""
    seq, many = (Run("floor: fork + fresh namespaces, no jail", n, 1) for n in (1, 32))
    seq.samples = _floor(calls, 0)["samples"]
    seq.elapsed = sum(seq.samples) / 1000
    found = _floor(0, many.clients, f"BURST={burst}")
    many.samples, many.elapsed, many.cpu_ms = found["burst"], found["calls"] / found["rate"], \
        found["cpu_ms"]
    return [seq, many]


def bwrap_runs(calls: int, handler: str) -> list:
    cmd = bwrap_command(handler)

    def bwrap():
        subprocess.run(cmd, input=EVENT, check=True, stdout=subprocess.DEVNULL)
    runs = []
    for n, each in ((1, max(calls // 5, 50)), (4, max(calls // 20, 15))):
        time.sleep(SETTLE)
        before = sum(os.times()[:4])
        run = clients(Run("bwrap --unshare-all python3 per call", n, 1), lambda i: bwrap, each)
        run.cpu_ms = (sum(os.times()[:4]) - before) * 1000 / run.calls
        runs.append(run)
    return runs


def private_store(kind: str) -> str:
    """A temporary directory holding a store with the python image, made the
    engine's (this process's and the servers' it starts)."""
    work = tempfile.mkdtemp(prefix=f"pycontain-bench-{kind}-")
    os.chmod(work, 0o755)
    os.environ.update(PYCONTAIN_ROOT=f"{work}/data", PYCONTAIN_RUNROOT=f"{work}/run")
    try:
        subprocess.run([sys.executable, str(REPO / "rootfs" / "build.py"), f"{work}/layouts",
                        "python"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([PYCONTAIN, "import", f"oci:{work}/layouts/python",
                        "localhost/python:latest"], check=True, stdout=subprocess.DEVNULL)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return work


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--direct"]
    only_direct = "--direct" in sys.argv[1:]
    calls = int(args[0]) if args else 400
    burst = int(args[1]) if len(args) > 1 else 20
    work = private_store("serve")
    try:
        handler = os.path.join(work, "handler.py")
        with open(handler, "w") as f:
            f.write(HANDLER)
        boto = make_functions(work, boto=not only_direct)
        if only_direct:
            runs, memory = direct_runs(calls, burst, False) + floor_runs(calls, burst), []
        else:
            runs = direct_runs(calls, burst, boto) + http_runs(calls, burst) \
                + floor_runs(calls, burst) + bwrap_runs(calls, handler)
            memory = memory_rows(work)
        print(f"\nfn serve under load: warm calls, a fresh jail per call ({os.cpu_count()} "
              f"CPUs; ms; every client starts at once, calls back to back)")
        print_table(runs)
        if not boto and not only_direct:
            print("(no boto3 row: boto3 or a dependency is not importable here)")
        summary(runs)
        if memory:
            print_memory(memory)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def print_memory(memory: list) -> None:
    print("\nmemory: 50 functions created, 20 warm (one call each), PSS from /status")
    print("| --spares | warm | MB PSS per warm function | processes per function | server MB |")
    print("|---|---|---|---|---|")
    for row in memory:
        print("| %d | %d | %.1f | %.1f | %.1f |" % row)


def summary(runs: list) -> None:
    """The issue's ratios: 32-client p99 over the 1-client p99, direct calls/s
    over the floor's."""
    direct = [r for r in runs if r.label == DIRECT]
    pairs = sorted(zip(*[[r for r in runs if r.label == label]
                         for label in (STEADY, FLOOR_RATE, ISOLATED_RATE)]),
                   key=lambda rows: rows[0].rate / rows[1].rate)
    steady, floor = pairs[len(pairs) // 2][:2]
    ceiling = sorted(i.rate / f.rate for _, f, i in pairs)[len(pairs) // 2]
    one = percentile(direct[0].samples, 0.99)
    floors = [r for r in runs if r.label.startswith("floor: fork")]
    floor_one, floor_many = (percentile(r.samples, .99) for r in floors)
    print(f"the floor itself (no isolation), 32 clients x 1 fn: p99 {floor_many:.1f} ms = "
          f"{floor_many / floor_one:.1f}x its 1-client p99")
    for r in [r for r in runs if r.label.startswith("zygote") and r.clients == 32]:
        bound = r.clients / r.rate * 1000  # Little's law: the mean a closed loop must see
        p99 = percentile(r.samples, .99)
        print(f"{r.label}, 32 clients x {r.functions} fn: p99 {p99:.1f} ms = {p99 / one:.1f}x "
              f"the 1-client p99; mean {sum(r.samples) / len(r.samples):.1f} ms, clients/rate "
              f"= {bound:.1f} ms (p99 = {p99 / bound:.1f}x that); failed {r.failures}")
    best = max(r.rate for r in direct if r.clients > 1)
    print(f"direct calls/s / floor, the median of {len(pairs)} pairs (each steady row over "
          f"the floor's just before): {steady.rate:.0f} / {floor.rate:.0f} = "
          f"{steady.rate / floor.rate:.2f}x (all: "
          + ", ".join(f"{s.rate / f.rate:.2f}" for s, f, _ in pairs)
          + f"; CPU ms/call {steady.cpu_ms:.2f} vs {floor.cpu_ms:.2f}); best burst row "
          f"{best:.0f} = {best / floor.rate:.2f}x that floor")
    print(f"isolated floor / floor (item 2's isolation at its cheapest, no zygote or "
          f"transport: the bound of that ratio), median {ceiling:.2f}x (all: "
          + ", ".join(f"{i.rate / f.rate:.2f}" for _, f, i in pairs)
          + "); direct / isolated floor: " + ", ".join(f"{s.rate / i.rate:.2f}" for s, _, i in pairs))


if __name__ == "__main__":
    main()
