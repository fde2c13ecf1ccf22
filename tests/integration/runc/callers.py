"""Real callers of pycontain-runc, each started in private directories:
podman (conmon), containerd with ctr, and containerd's CRI plugin (the
Kubernetes path without a kubelet). Test-only: the test command installs
podman and containerd; nothing here is part of pycontain."""
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .bundle import RUNC

CONTAINERD_CONFIG = """version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd-ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:latest"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "pycontain"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.pycontain]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.pycontain.options]
        BinaryName = "{runc}"
"""


def remove_cgroup_dirs(name: str) -> None:
    """Remove the (empty) cgroup directories NAME, and what is below them, that a
    caller made at the root of each hierarchy or under our own cgroup there
    (podman's conmon cgroups, containerd's shim's, parents no runtime removes)."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        own[names.replace("name=", "")] = path.strip("/")
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        for base in {"", own.get(hierarchy, "")}:
            top = Path("/sys/fs/cgroup", hierarchy, base, name)
            if top.is_dir():
                for entry in sorted(top.rglob("*"), key=lambda p: -len(p.parts)):
                    if entry.is_dir():
                        _rmdir_when_empty(entry)
                _rmdir_when_empty(top)


def _rmdir_when_empty(directory: Path, timeout: float = 10) -> None:
    """rmdir a cgroup whose last process may still be exiting (a conmon)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            directory.rmdir()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_pause_image(busybox_tar: Path, out: Path) -> Path:
    """A CRI sandbox ("pause") image: busybox whose command sleeps forever."""
    layout = out.parent / "pause-oci"
    subprocess.run(["skopeo", "copy", "-q", f"docker-archive:{busybox_tar}",
                    f"oci:{layout}:latest"], check=True)
    subprocess.run(["umoci", "config", "--image", f"{layout}:latest", "--config.cmd", "sleep",
                    "--config.cmd", "2147483647"], check=True)
    subprocess.run(["skopeo", "copy", "-q", f"oci:{layout}:latest",
                    f"docker-archive:{out}:localhost/pause:latest"], check=True)
    shutil.rmtree(layout)
    return out


class Containerd:
    """A containerd of the test's own: config, root, state and sockets in a temp dir."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.sock = str(directory / "containerd.sock")
        (directory / "config.toml").write_text(CONTAINERD_CONFIG.format(d=directory, runc=RUNC))
        self.log = open(directory / "containerd.log", "wb")
        self.proc = subprocess.Popen(["containerd", "--config", str(directory / "config.toml")],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self.ctr("version", check=False).returncode == 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError("containerd did not start: "
                                     + (directory / "containerd.log").read_text()[-2000:])
            time.sleep(0.1)

    def ctr(self, *args, namespace="default", check=True, **kw):
        kw.setdefault("capture_output", True)
        proc = subprocess.run(["ctr", "--address", self.sock, "-n", namespace,
                               *map(str, args)], text=True, timeout=120, **kw)
        if check and proc.returncode != 0:
            raise AssertionError(f"ctr {args}: rc {proc.returncode}: {proc.stderr}")
        return proc

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        subprocess.run(["umount", "-R", str(self.dir / "root")], capture_output=True)
        for mount in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            target = mount.split()[4]
            if target.startswith(str(self.dir)):
                subprocess.run(["umount", "-l", target], capture_output=True)


class Podman:
    """podman with private storage, no network of its own, pycontain-runc as runtime."""

    def __init__(self, cgroup_parent: str):
        # short: podman refuses a run root of 50 characters or more
        self.dir = directory = Path(tempfile.mkdtemp(prefix="pyc-pm-", dir="/tmp"))
        self.cgroup_parent = cgroup_parent
        self.base = ["podman", "--root", str(directory / "root"), "--runroot",
                     str(directory / "run"), "--tmpdir", str(directory / "tmp"),
                     "--network-config-dir", str(directory / "net"),
                     "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                     "--events-backend", "none", "--runtime", RUNC]
        # this host lacks CAP_SYS_RESOURCE: podman's default rlimits cannot be set
        self.run_flags = ["--network", "none", "--cgroup-parent", f"/{cgroup_parent}",
                          "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]

    def __call__(self, *args, check=True, **kw):
        kw.setdefault("capture_output", True)
        proc = subprocess.run([*self.base, *map(str, args)], text=True, timeout=120, **kw)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {args}: rc {proc.returncode}: {proc.stderr}")
        return proc

    def cleanup(self) -> None:
        self("rm", "-a", "-f", check=False)
        for mount in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            target = mount.split()[4]
            if target.startswith(str(self.dir)):
                subprocess.run(["umount", "-l", target], capture_output=True)
        remove_cgroup_dirs(self.cgroup_parent)  # podman's conmon cgroups
        shutil.rmtree(self.dir, ignore_errors=True)
