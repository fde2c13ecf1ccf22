#!/usr/bin/env python3
"""The floor of a warm call with fresh namespaces, for bench/fn_serve.py: a
small warm interpreter (this one: no more than the handler, json and
pycontain.native imported) forks, the child takes fresh net, mount, ipc and uts
namespaces, brings lo up, runs the handler on the event and exits. No pid
namespace, mounts, cgroup, seccomp, capabilities or transport: what any forked
Python call with fresh namespaces costs at least. Run as root:
bench/fork_floor.py HANDLER_SOURCE EVENT CALLS WORKERS; prints one JSON line:
the sequential calls' times (ms; none for CALLS 0), and the calls/s, number of
calls and CPU ms per call (the workers' and their calls') of WORKERS processes
at once (null for WORKERS 0)."""
import json
import os
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # the installed pycontain first
from pycontain import native  # noqa: E402

# seconds before a measurement: the kernel frees the network namespaces of the
# one before in the background, on the same cores
SETTLE = 5.0
FRESH = native.CLONE_NEWNET | native.CLONE_NEWNS | native.CLONE_NEWIPC | native.CLONE_NEWUTS


def reap(block: bool = False) -> None:
    """Reap our ended children (all of them, waiting, with block); raise if one failed."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if status:
            raise RuntimeError(f"a floor call failed: wait status {status}")


def make_call(source: str, event: bytes):
    """A call: fork, the child's answer through a pipe (closed before it exits,
    as a call's is), its exit reaped later, as a zygote does."""
    namespace = {}
    exec(source, namespace)
    handler = namespace["handler"]

    def call():
        reap()
        read_end, write_end = os.pipe()
        if os.fork() == 0:
            status = 1
            try:
                os.close(read_end)
                native.unshare(FRESH)
                native.loopback_up()
                os.write(write_end, json.dumps(handler(json.loads(event), None)).encode())
                os.close(write_end)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as answer:
            if not answer.read():
                raise RuntimeError("a floor call gave no answer")
    return call


def latency(call, n: int) -> list:
    """Milliseconds of n sequential calls, after 20 to warm up."""
    time.sleep(SETTLE)
    for _ in range(20):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def concurrent(call, workers: int, seconds: float = 3.0) -> tuple:
    """(calls/s, calls, CPU ms per call) of worker processes calling in a loop."""
    reap(block=True)
    time.sleep(SETTLE)
    read_end, write_end = os.pipe()
    cpu = sum(os.times()[2:4])
    start = time.monotonic()
    stop, pids = start + seconds, []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            count, status = 0, 1
            try:
                while time.monotonic() < stop:
                    call()
                    count += 1
                reap(block=True)
                os.write(write_end, b"%d\n" % count)
                status = 0
            finally:
                os._exit(status)
        pids.append(pid)
    for pid in pids:
        if os.waitpid(pid, 0)[1]:
            raise RuntimeError("a floor worker failed")
    elapsed = time.monotonic() - start
    cpu = sum(os.times()[2:4]) - cpu  # the workers' and the calls' they reaped
    os.close(write_end)
    with os.fdopen(read_end, "rb") as counts:
        calls = sum(int(n) for n in counts.read().split())
    return calls / elapsed, calls, cpu * 1000 / max(calls, 1)


def main() -> None:
    source, event, calls, workers = sys.argv[1], sys.argv[2].encode(), *map(int, sys.argv[3:5])
    call = make_call(source, event)
    samples = latency(call, calls) if calls else []  # 0: the calls/s only
    rate, count, cpu_ms = concurrent(call, workers) if workers else (None, None, None)
    print(json.dumps({"samples": samples, "rate": rate, "calls": count, "cpu_ms": cpu_ms}))


if __name__ == "__main__":
    main()
