#!/usr/bin/env python3
"""The floor of a warm call with fresh namespaces, for bench/fn_serve.py: a
small warm interpreter (this one: no more than the handler, json and
pycontain.native imported) forks, the child takes fresh net, mount, ipc and uts
namespaces, brings lo up, runs the handler on the event and exits. No pid
namespace, mounts, cgroup, seccomp, capabilities or transport: what any forked
Python call with fresh namespaces costs at least.

With ISOLATED, the floor of issue 22's item 2 itself: the same call plus the
cheapest form of each property that item requires of a call and the floor
leaves out: a fresh pid namespace (the child is cloned into it) with its own
/proc, a fresh /tmp, its own cgroups (memory and pids, joined from a pool made
ahead, as fn serve's calls join theirs), no capabilities and a seccomp filter
(one instruction: any real profile costs more). No user namespace, /proc
masks, /dev/shm, rlimits, zygote or transport: what no implementation of item
2 can go below on this machine.

Run as root: bench/fork_floor.py HANDLER_SOURCE EVENT CALLS WORKERS [ISOLATED]
[BURST=N]; prints one JSON line: the sequential calls' times (ms; none for
CALLS 0), and the calls/s, number of calls and CPU ms per call (the workers'
and their calls') of WORKERS processes at once (null for WORKERS 0), calling
for 3 s, or with BURST, N calls each from one start (a burst: their times too)."""
import ctypes
import json
import os
import signal
import struct
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # the installed pycontain first
from pycontain import native  # noqa: E402
from pycontain.fn.injail import call_setup  # noqa: E402
from pycontain.fn.server.call_cgroups import CallCgroups  # noqa: E402

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


def make_call(source: str, event: bytes, isolated: "Isolation | None" = None):
    """A call: fork, the child's answer through a pipe (closed before it exits,
    as a call's is), its exit reaped later, as a zygote does; with isolated,
    cloned into a fresh pid namespace and isolated as that says."""
    namespace = {}
    exec(source, namespace)
    handler = namespace["handler"]

    def call():
        reap()
        read_end, write_end = os.pipe()
        group = isolated.take() if isolated else None
        if (isolated.clone() if isolated else os.fork()) == 0:
            status = 1
            try:
                os.close(read_end)
                native.unshare(FRESH)
                native.loopback_up()
                if isolated:
                    isolated.enter(group)
                os.write(write_end, json.dumps(handler(json.loads(event), None)).encode())
                os.close(write_end)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as answer:
            if not answer.read():
                raise RuntimeError("a floor call gave no answer")
        if isolated:
            isolated.give_back(group)
    return call


class Isolation:
    """What ISOLATED adds to a call (see the docstring), made ahead per process:
    its cgroups pool (a worker forked from this process makes its own)."""

    def __init__(self):
        self._pools = {}
        self._filter = struct.pack("HBBI", 0x06, 0, 0, 0x7FFF0000)  # BPF_RET|BPF_K: ALLOW
        self._cap_header = (ctypes.c_uint32 * 2)(call_setup.CAP_VERSION_3, 0)
        self._no_caps = (ctypes.c_uint32 * 6)()
        # calls mount in a mount namespace of ours, never propagated to the host's
        native.unshare(native.CLONE_NEWNS)
        native.mount(None, "/", None, native.MS_REC | native.MS_PRIVATE)

    def _pool(self) -> CallCgroups:
        pool = self._pools.get(os.getpid())
        if pool is None:
            pool = self._pools[os.getpid()] = CallCgroups(memory_mb=128)
        return pool

    def take(self):
        return self._pool().take()

    def give_back(self, group) -> None:
        self._pool().give_back(group[0])

    def close(self) -> None:
        pool = self._pools.pop(os.getpid(), None)
        if pool is not None:
            pool.close()

    @staticmethod
    def clone() -> int:
        return call_setup.clone(native.CLONE_NEWPID | signal.SIGCHLD)

    def enter(self, group) -> None:
        """In the call's child, after its unshare."""
        for fd in group[1]:
            os.write(fd, b"0")
        plain = native.MS_NOSUID | native.MS_NODEV | native.MS_NOEXEC
        native.mount("proc", "/proc", "proc", plain)
        native.mount("tmpfs", "/tmp", "tmpfs", native.MS_NOSUID | native.MS_NODEV,
                     "mode=1777,size=65536k")
        native.prctl(native.PR_SET_NO_NEW_PRIVS, 1)
        native.seccomp_load(self._filter)
        if call_setup._capset(self._cap_header, self._no_caps):
            raise OSError("capset failed")


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


def concurrent(call, workers: int, finish, seconds: float = 3.0, each: int = 0) -> dict:
    """calls/s, calls, CPU ms per call of worker processes calling in a loop
    for seconds, or with each, making each calls back to back from one start
    (a burst; their latencies too); every worker calls finish once its calls
    are over."""
    reap(block=True)
    time.sleep(SETTLE)
    read_end, write_end = os.pipe()
    gate, opened = os.pipe()  # the workers start as this closes: all forked by then
    cpu = sum(os.times()[2:4])
    start = time.monotonic()
    stop, pids = start + seconds, []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(opened)
                os.read(gate, 1)
                samples = []
                while (len(samples) < each) if each else time.monotonic() < stop:
                    began = time.perf_counter()
                    call()
                    samples.append((time.perf_counter() - began) * 1000)
                reap(block=True)
                end = time.monotonic()  # before finish: its clean-up is not a call's
                finish()
                os.write(write_end, json.dumps(  # < PIPE_BUF: one write, whole
                    [len(samples), end, samples if each else []]).encode() + b"\n")
                status = 0
            finally:
                os._exit(status)
        pids.append(pid)
    os.close(opened)
    for pid in pids:
        if os.waitpid(pid, 0)[1]:
            raise RuntimeError("a floor worker failed")
    cpu = sum(os.times()[2:4]) - cpu  # the workers' and the calls' they reaped
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reports:
        ends = [json.loads(line) for line in reports.read().splitlines()]
    calls, elapsed = sum(n for n, _, _ in ends), max(t for _, t, _ in ends) - start
    return {"rate": calls / elapsed, "calls": calls, "cpu_ms": cpu * 1000 / max(calls, 1),
            "burst": [ms for _, _, samples in ends for ms in samples]}


def main() -> None:
    source, event, calls, workers = sys.argv[1], sys.argv[2].encode(), *map(int, sys.argv[3:5])
    options = dict(arg.partition("=")[::2] for arg in sys.argv[5:])
    isolated = Isolation() if "ISOLATED" in options else None
    finish = isolated.close if isolated else lambda: None
    call = make_call(source, event, isolated)
    try:
        samples = latency(call, calls) if calls else []  # 0: the calls/s only
    finally:
        finish()
    found = {"rate": None, "calls": None, "cpu_ms": None, "burst": []}
    if workers:
        found = concurrent(call, workers, finish, each=int(options.get("BURST", 0)))
    print(json.dumps({"samples": samples, **found}))


if __name__ == "__main__":
    main()
