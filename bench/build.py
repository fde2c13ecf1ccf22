"""`pycontain build --network host` against `buildah bud --layers` (Debian's
buildah, vfs storage, chroot isolation, which runs RUN steps in the host's
network namespace too): a small Dockerfile and a 10-step one with a
50 MB context, cold (--no-cache, base image already stored) and fully
cached, interleaved, medians and ratios.

    sudo .venv/bin/python bench/build.py [ROUNDS]

Needs buildah (test.sh installs it). Everything lives in a temporary
directory: a private pycontain store and a private buildah root.
"""
import os
import shutil
import subprocess
import sys
import tempfile

from common import PYCONTAIN, REPO, measure, print_table, run_quiet, time_once

SMALL = """FROM busybox
COPY app.txt /app/
RUN echo built > /built
CMD ["cat", "/built"]
"""
TEN = """FROM busybox
ARG VERSION=1
ENV APP=/srv/app
WORKDIR $APP
COPY data/ ./data/
RUN du -s data > /size
COPY app.txt ./
RUN echo $VERSION > version && cp app.txt copy.txt
LABEL bench=ten
CMD ["cat", "version"]
"""


def contexts(work: str) -> dict:
    small = os.path.join(work, "small")
    os.makedirs(small)
    with open(os.path.join(small, "Dockerfile"), "w") as f:
        f.write(SMALL)
    with open(os.path.join(small, "app.txt"), "w") as f:
        f.write("hello\n")
    ten = os.path.join(work, "ten")
    os.makedirs(os.path.join(ten, "data"))
    with open(os.path.join(ten, "Dockerfile"), "w") as f:
        f.write(TEN)
    with open(os.path.join(ten, "app.txt"), "w") as f:
        f.write("app\n")
    for i in range(50):  # 50 MB: half random, half zeros
        with open(os.path.join(ten, "data", f"part{i}.bin"), "wb") as f:
            f.write(os.urandom(512 << 10) + bytes(512 << 10))
    return {"small": small, "10-step 50 MB": ten}


def remove_cgroup_parent(name: str) -> None:
    """The engine's cgroup parent for the bench, in every hierarchy (on v1
    nested under this process's own cgroup, as the engine nests it)."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            own[names] = path.strip("/")
    for parent in [f"/sys/fs/cgroup/{name}"] + [
            os.path.join("/sys/fs/cgroup", h, own.get(h, ""), name)
            for h in os.listdir("/sys/fs/cgroup")]:
        if os.path.isdir(parent):
            os.rmdir(parent)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    work = tempfile.mkdtemp(prefix="pycontain-bench-build-")
    env = dict(os.environ, PYCONTAIN_ROOT=os.path.join(work, "store"),
               PYCONTAIN_RUNROOT=os.path.join(work, "run"),
               PYCONTAIN_CGROUP_PARENT=f"pycontain-bench-{os.getpid()}")
    buildah = ["buildah", "--root", os.path.join(work, "buildah"), "--runroot",
               os.path.join(work, "buildah-run"), "--storage-driver", "vfs"]
    try:
        layouts = os.path.join(work, "layouts")
        run_quiet([sys.executable, str(REPO / "rootfs" / "build.py"), layouts, "busybox"])
        run_quiet([PYCONTAIN, "import", f"oci:{layouts}/busybox", "localhost/busybox:latest"],
                  env=env)
        archive = os.path.join(work, "busybox.tar")
        run_quiet([PYCONTAIN, "save", "-o", archive, "busybox"], env=env)
        run_quiet([*buildah, "pull", "-q", f"docker-archive:{archive}"])
        cases = {}
        for label, ctx in contexts(work).items():
            def ours(*flags, ctx=ctx):
                # host: as buildah's chroot isolation (no network namespace of its own)
                return [PYCONTAIN, "build", "--network", "host", *flags, "-q", "-t", "bench",
                        ctx]

            def theirs(*flags, ctx=ctx):
                return [*buildah, "bud", "--layers", *flags, "--isolation", "chroot", "-q",
                        "-t", "bench", ctx]
            quiet = {"stderr": subprocess.DEVNULL}
            cases[f"{label}: pycontain cold"] = \
                lambda c=ours("--no-cache"): time_once(c, env=env, **quiet)
            cases[f"{label}: buildah cold"] = \
                lambda c=theirs("--no-cache"): time_once(c, cwd=work, **quiet)
            cases[f"{label}: pycontain cached"] = lambda c=ours(): time_once(c, env=env, **quiet)
            cases[f"{label}: buildah cached"] = \
                lambda c=theirs(): time_once(c, cwd=work, **quiet)
        samples = measure(cases, rounds, warmup=1)
        for label in ("small", "10-step 50 MB"):
            for kind in ("cold", "cached"):
                picked = {k: v for k, v in samples.items()
                          if k.startswith(label + ":") and k.endswith(kind)}
                print_table(picked, f"{label}: buildah {kind}",
                            f"build, {label}, {kind}, {rounds} rounds")
    finally:
        subprocess.run([*buildah, "rmi", "-a", "-f"], capture_output=True)
        remove_cgroup_parent(env["PYCONTAIN_CGROUP_PARENT"])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
