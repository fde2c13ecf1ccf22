#!/usr/bin/env python3
"""The floor of a warm call with fresh namespaces, for bench/fn_serve.py: a
small warm interpreter (this one: no more than the handler, json and
pycontain.native imported) forks, the child takes fresh net, mount, ipc and uts
namespaces, brings lo up, runs the handler on the event and exits. No pid
namespace, mounts, cgroup, seccomp, capabilities or transport: what any forked
Python call with fresh namespaces costs at least. Run as root:
bench/fork_floor.py HANDLER_SOURCE EVENT CALLS WORKERS; prints one JSON line:
the sequential calls' times (ms) and the calls/s of WORKERS processes at once."""
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pycontain import native  # noqa: E402

# seconds before a throughput run: the kernel frees the network namespaces of the
# run before in the background, on the same cores
SETTLE = 2.0
FRESH = native.CLONE_NEWNET | native.CLONE_NEWNS | native.CLONE_NEWIPC | native.CLONE_NEWUTS


def make_call(source: str, event: bytes):
    namespace = {}
    exec(source, namespace)
    handler = namespace["handler"]

    def call():
        pid = os.fork()
        if pid == 0:
            try:
                native.unshare(FRESH)
                native.loopback_up()
                json.dumps(handler(json.loads(event), None))
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    return call


def latency(call, n: int) -> list:
    """Milliseconds of n sequential calls, after 20 to warm up."""
    for _ in range(20):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def concurrent(call, workers: int, seconds: float = 3.0) -> float:
    """Calls/s of worker processes calling in a loop."""
    time.sleep(SETTLE)
    read_end, write_end = os.pipe()
    stop, pids = time.monotonic() + seconds, []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            count = 0
            while time.monotonic() < stop:
                call()
                count += 1
            os.write(write_end, b"%d\n" % count)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as counts:
        return sum(int(n) for n in counts.read().split()) / seconds


def main() -> None:
    source, event, calls, workers = sys.argv[1], sys.argv[2].encode(), *map(int, sys.argv[3:5])
    call = make_call(source, event)
    print(json.dumps({"samples": latency(call, calls), "rate": concurrent(call, workers)}))


if __name__ == "__main__":
    main()
