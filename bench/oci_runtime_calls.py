#!/usr/bin/env python3
"""Each runtime call a container costs, pycontain-runc against runc, driven as
containerd's shim drives them: as a child subreaper, `create --pid-file`,
`start`, wait for the init's exit, `delete`; interleaved, medians per call.
A busybox bundle (`true`) with the tests' config.json, or CONFIG's (a
config.json taken from a real caller: its root.path and args are replaced).
Run as root: bench/oci_runtime_calls.py [ROUNDS] [CONFIG]."""
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO

sys.path.insert(0, str(REPO / "tests" / "integration"))
from runc.bundle import RUNC, make_bundle  # noqa: E402
from runc.callers import remove_cgroup_dirs  # noqa: E402

PARENT = f"pycontain-bench-calls-{os.getpid()}"
PR_SET_CHILD_SUBREAPER = 36


def timed(cmd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def one_container(runtime, work: Path, config: dict, cid: str, out: dict) -> None:
    config["linux"]["cgroupsPath"] = f"/{PARENT}/{cid}"
    (work / "bundle" / "config.json").write_text(json.dumps(config))
    began = time.perf_counter()
    out.setdefault("create", []).append(timed([*runtime, "create", "--bundle", work / "bundle",
                                               "--pid-file", work / "pid", cid]))
    pid = int((work / "pid").read_text())
    out.setdefault("start", []).append(timed([*runtime, "start", cid]))
    os.waitpid(pid, 0)  # the init is ours to reap, as the shim's
    out.setdefault("delete", []).append(timed([*runtime, "delete", cid]))
    out.setdefault("whole container", []).append((time.perf_counter() - began) * 1000)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    work = Path(tempfile.mkdtemp(prefix="pycontain-bench-calls-"))
    try:
        make_bundle(work / "bundle", ["true"])
        config = json.loads((work / "bundle" / "config.json").read_text())
        if len(sys.argv) > 2:
            config = json.loads(Path(sys.argv[2]).read_text())
            config["root"], config["process"]["args"] = {"path": "rootfs"}, ["true"]
        runtimes = {"runc": [shutil.which("runc"), "--root", work / "runc"],
                    "pycontain-runc": [RUNC, "--root", work / "pycontain-runc"]}
        samples = {name: {} for name in runtimes}
        for i in range(rounds + 2):  # the first two warm up
            for name, runtime in runtimes.items():
                one_container(runtime, work, config, f"{name}-{i}",
                              samples[name] if i >= 2 else {})
        print(f"\nper call, {rounds} interleaved rounds (median ms; ratio to runc)")
        print("| call | pycontain-runc | runc | ratio |\n|---|---|---|---|")
        for call in samples["runc"]:
            ours, theirs = (statistics.median(samples[n][call])
                            for n in ("pycontain-runc", "runc"))
            print(f"| {call} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f}x |")
    finally:
        remove_cgroup_dirs(PARENT)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
