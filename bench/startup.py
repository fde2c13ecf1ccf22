#!/usr/bin/env python3
"""Start latency: `pycontain run --rm busybox true` vs `runc run` and `bwrap`
on the same busybox root file system. Run as root: bench/startup.py [ROUNDS]."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from common import PYCONTAIN, measure, print_table, run_quiet, time_once

CGROUP_PARENT = "pycontain-bench"


def busybox_rootfs(directory: str) -> str:
    """Unpack the store's busybox image (the one pycontain runs) into directory."""
    layer = json.loads(subprocess.check_output(
        [PYCONTAIN, "images", "--format", "json"]))
    if not any(r["Name"] == "localhost/busybox:latest" for r in layer):
        sys.exit("bench: the busybox image is missing: run ./install.sh first")
    from pycontain.image.store import ImageStore
    from pycontain import paths
    image = ImageStore(paths.data_root()).resolve("busybox")
    rootfs = os.path.join(directory, "rootfs")
    shutil.copytree(image.layer_dirs[-1], rootfs, symlinks=True)
    return rootfs


def runc_bundle(directory: str) -> None:
    """A runc bundle whose cgroups live under a parent of ours (removed after)."""
    run_quiet(["runc", "spec"], cwd=directory)
    path = os.path.join(directory, "config.json")
    with open(path) as f:
        spec = json.load(f)
    spec["process"].update(args=["true"], terminal=False)
    spec["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/runc"
    with open(path, "w") as f:
        json.dump(spec, f)


def remove_bench_cgroups() -> None:
    for controller in os.listdir("/sys/fs/cgroup"):
        parent = os.path.join("/sys/fs/cgroup", controller, CGROUP_PARENT)
        for sub in (os.path.join(parent, "runc"), parent):
            if os.path.isdir(sub):
                os.rmdir(sub)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    work = tempfile.mkdtemp(prefix="pycontain-bench-")
    try:
        rootfs = busybox_rootfs(work)
        runc_bundle(work)
        runc_root = os.path.join(work, "runc-state")
        counter = iter(range(10**6))
        cases = {
            "pycontain run --rm busybox true": lambda: time_once(
                [PYCONTAIN, "run", "--rm", "busybox", "true"]),
            "runc run (same rootfs)": lambda: time_once(
                ["runc", "--root", runc_root, "run", "--bundle", work, f"b{next(counter)}"]),
            "bwrap --unshare-all (same rootfs)": lambda: time_once(
                ["bwrap", "--unshare-all", "--ro-bind", rootfs, "/", "--proc", "/proc",
                 "--dev", "/dev", "/bin/true"]),
        }
        samples = measure(cases, rounds)
        print_table(samples, "runc run (same rootfs)",
                    f"Start latency, {rounds} interleaved rounds, `true` in busybox")
    finally:
        remove_bench_cgroups()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
