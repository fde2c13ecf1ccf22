"""Pull + unpack of a multi-layer image (>= 50 MB) from a local registry:
`pycontain pull` (into an empty store) against `skopeo copy` to an OCI
layout followed by `umoci unpack`, interleaved, medians and ratio.

    sudo .venv/bin/python bench/pull.py [ROUNDS]

Needs docker-registry (./test.sh installs it), skopeo and umoci (./install.sh).
Only 127.0.0.1 is contacted: the registry is started here and stopped at the end.
"""
import os
import shutil
import sys
import tempfile
import time

from common import PYCONTAIN, REPO, measure, print_table, run_quiet

sys.path.insert(0, str(REPO / "tests" / "integration" / "registry"))
from regserver import Registry, busybox_dir, skopeo_copy, umoci_image  # noqa: E402


def build_layers(work: str) -> list:
    """busybox + 3000 small files; then three 16 MB layers of mixed data."""
    base = os.path.join(work, "base")
    busybox_dir(base)
    for i in range(30):
        d = os.path.join(base, "usr", "share", f"d{i}")
        os.makedirs(d)
        for j in range(100):
            with open(os.path.join(d, f"f{j}.txt"), "wb") as f:
                f.write((f"file {i}/{j} " * 300).encode())
    layers = [base]
    for i in range(3):
        root = os.path.join(work, f"blob{i}")
        os.makedirs(root)
        with open(os.path.join(root, f"data{i}.bin"), "wb") as f:
            f.write(os.urandom(12 << 20) + bytes(4 << 20))
        layers.append(root)
    return layers


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    work = tempfile.mkdtemp(prefix="pycontain-bench-pull-")
    reg = Registry(os.path.join(work, "registry"))
    try:
        layout = os.path.join(work, "layout")
        umoci_image(layout, "big", build_layers(os.path.join(work, "src")),
                    ["--config.cmd", "/bin/sh"])
        ref = f"{reg.host}/bench/big:latest"
        skopeo_copy(f"oci:{layout}:big", f"docker://{ref}")
        size = sum(os.path.getsize(os.path.join(dp, f))
                   for dp, _, fs in os.walk(os.path.join(work, "src")) for f in fs)
        scratch = os.path.join(work, "scratch")

        def timed(fn):
            def case():
                os.makedirs(scratch)
                try:
                    start = time.perf_counter()
                    fn()
                    return (time.perf_counter() - start) * 1000
                finally:
                    shutil.rmtree(scratch)
            return case

        def pycontain():
            env = dict(os.environ, PYCONTAIN_ROOT=os.path.join(scratch, "store"))
            run_quiet([PYCONTAIN, "pull", "-q", ref], env=env)

        def skopeo_umoci():
            oci = os.path.join(scratch, "oci")
            run_quiet(["skopeo", "copy", "--quiet", "--insecure-policy",
                       "--src-tls-verify=false", f"docker://{ref}", f"oci:{oci}:big"])
            run_quiet(["umoci", "unpack", "--image", f"{oci}:big",
                       os.path.join(scratch, "bundle")], stderr=open(os.devnull, "w"))

        samples = measure({"pycontain pull (into an empty store)": timed(pycontain),
                           "skopeo copy + umoci unpack": timed(skopeo_umoci)},
                          rounds, warmup=1)
        print_table(samples, "skopeo copy + umoci unpack",
                    f"pull + unpack, 4 layers, {size / 1e6:.0f} MB uncompressed, "
                    f"{rounds} rounds")
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
