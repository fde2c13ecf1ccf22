#!/usr/bin/env python3
"""pycontain-runc under real callers, against runc under the same callers:
`podman run --rm busybox true` and `ctr run --rm busybox true`, interleaved,
and the memory a live container costs (pycontain's own `run -d` monitor
against podman's conmon). Run as root: bench/oci_runtime.py [ROUNDS] [LIVE]."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PYCONTAIN, REPO, measure, print_table, time_once

sys.path.insert(0, str(REPO / "tests" / "integration"))
from runc.bundle import RUNC  # noqa: E402  (the harness the tests use)
from runc.callers import Containerd, Podman, remove_cgroup_dirs  # noqa: E402


def pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("PPid:"))


def live_memory(podman: Podman, live: int) -> None:
    """PSS per live container: pycontain's monitor vs conmon (podman + pycontain-runc)."""
    ours, conmons = [], []
    try:
        for i in range(live):
            subprocess.run([PYCONTAIN, "run", "-d", "--name", f"bench-live-{i}", "busybox",
                            "sleep", "1000"], check=True, stdout=subprocess.DEVNULL)
            podman("run", "-d", "--name", f"bench-live-{i}", *podman.run_flags, "busybox",
                   "sleep", "1000")
        time.sleep(1)
        for i in range(live):
            info = json.loads(subprocess.check_output([PYCONTAIN, "inspect",
                                                       f"bench-live-{i}"]))
            info = info[0] if isinstance(info, list) else info
            ours.append(pss_kb(parent_of(info["State"]["Pid"])))  # the monitor
            conmon = json.loads(podman("inspect", f"bench-live-{i}").stdout)[0]["State"]
            conmons.append(pss_kb(conmon["ConmonPid"]))
    finally:
        for i in range(live):
            subprocess.run([PYCONTAIN, "rm", "-f", f"bench-live-{i}"], capture_output=True)
        podman("rm", "-a", "-f", check=False)
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    print(f"\nMemory per live container ({live} of each, PSS, median)")
    print("| monitor | PSS KiB |\n|---|---|")
    print(f"| pycontain run -d (Python monitor) | {med(ours)} |")
    print(f"| podman + pycontain-runc (conmon; no process of ours stays) | {med(conmons)} |")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    live = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    work = Path(tempfile.mkdtemp(prefix="pycontain-bench-"))
    podman = Podman(f"pycontain-bench-podman-{os.getpid()}")
    daemon = None
    try:
        subprocess.run([PYCONTAIN, "save", "-o", work / "busybox.tar", "busybox"], check=True)
        podman("load", "-i", work / "busybox.tar")
        (work / "containerd").mkdir()
        daemon = Containerd(work / "containerd")
        daemon.ctr("images", "import", work / "busybox.tar")
        counter = iter(range(10**6))

        def ctr(binary):
            return lambda: time_once(["ctr", "--address", daemon.sock, "run", "--rm",
                                      "--runc-binary", binary, "--cgroup",
                                      f"pycontain-bench-ctr/b{next(counter)}",
                                      "localhost/busybox:latest", f"b{next(counter)}", "true"])

        def pod(binary):
            base = [binary if arg == RUNC else arg for arg in podman.base]
            return lambda: time_once([*base, "run", "--rm", *podman.run_flags, "busybox",
                                      "true"])
        runc = shutil.which("runc")
        cases = {"podman run --rm (runc)": pod(runc),
                 "podman run --rm (pycontain-runc)": pod(RUNC),
                 "ctr run --rm (runc)": ctr(runc),
                 "ctr run --rm (pycontain-runc)": ctr(RUNC)}
        samples = measure(cases, rounds)
        print_table({k: v for k, v in samples.items() if k.startswith("podman")},
                    "podman run --rm (runc)", f"podman, {rounds} interleaved rounds")
        print_table({k: v for k, v in samples.items() if k.startswith("ctr")},
                    "ctr run --rm (runc)", f"containerd's ctr, {rounds} interleaved rounds")
        live_memory(podman, live)
    finally:
        if daemon is not None:
            daemon.stop()
        podman.cleanup()
        remove_cgroup_dirs("pycontain-bench-ctr")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
