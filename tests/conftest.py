"""Shared test fixtures.

Integration tests run the installed `pycontain` command as root against the
real kernel, with a store and state root of their own (PYCONTAIN_ROOT and
PYCONTAIN_RUNROOT) holding the bundled images, built once per session.
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYCONTAIN = os.environ.get("PYCONTAIN_BIN") or str(Path(sys.executable).parent / "pycontain")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.root)


def _container_pids(store_root: str) -> set:
    """Processes (pid, start time) in another pid namespace whose mounts come
    from the given store, or (a function jail's interpreter before it has its
    root) whose environment names it: the containers of this test
    session, not of others."""
    ours = os.stat("/proc/self/ns/pid").st_ino
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/pid").st_ino == ours:
                continue
            with open(f"/proc/{entry}/mountinfo") as f:
                mounts = f.read()
            if store_root not in mounts:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if f"PYCONTAIN_ROOT={store_root}".encode() not in f.read().split(b"\0"):
                        continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                found.add((int(entry), f.read().rsplit(b")", 1)[1].split()[19]))
        except OSError:  # gone, or exiting (EINVAL from mountinfo): not ours to count
            continue
    return found


@pytest.fixture(scope="session")
def engine_env(tmp_path_factory):
    """Environment for running pycontain on a private store with the default images."""
    if os.geteuid() != 0:
        pytest.fail("integration tests need root (they use real namespaces and mounts)")
    root = tmp_path_factory.mktemp("pycontain")
    env = dict(os.environ, PYCONTAIN_ROOT=str(root / "data"), PYCONTAIN_RUNROOT=str(root / "run"),
               PYCONTAIN_CGROUP_PARENT=f"pycontain-test-{os.getpid()}")
    layouts = root / "layouts"
    images = os.environ.get("PYCONTAIN_TEST_IMAGES", "busybox python").split()  # VM: busybox
    subprocess.run([sys.executable, str(REPO / "rootfs" / "build.py"), str(layouts), *images],
                   check=True, stdout=subprocess.DEVNULL)
    for name in images:
        subprocess.run([PYCONTAIN, "import", f"oci:{layouts / name}", f"localhost/{name}:latest"],
                       check=True, env=env, stdout=subprocess.DEVNULL)
    yield env
    for parent in _cgroup_parents(env["PYCONTAIN_CGROUP_PARENT"]):
        os.rmdir(parent)
    shutil.rmtree(root, ignore_errors=True)


def _cgroup_parents(name: str) -> list:
    """The session's cgroup parent directories, in every cgroup hierarchy (on v1
    nested under this process's own cgroup there, as the engine nests them)."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        own[names] = path.strip("/")
    candidates = [f"/sys/fs/cgroup/{name}"] + [
        os.path.join("/sys/fs/cgroup", h, own.get(h, ""), name) for h in os.listdir("/sys/fs/cgroup")]
    return [p for p in candidates if os.path.isdir(p)]


def cgroup_dirs(env: dict) -> list:
    """The container cgroups under the session's cgroup parent."""
    return sorted(entry.path for parent in _cgroup_parents(env["PYCONTAIN_CGROUP_PARENT"])
                  for entry in os.scandir(parent) if entry.is_dir())


class Engine:
    """Runs the pycontain command against the test store."""

    def __init__(self, env: dict):
        self.env = env
        self.root = Path(env["PYCONTAIN_ROOT"])
        self.runroot = Path(env["PYCONTAIN_RUNROOT"])
        self.prefix = []  # e.g. nsenter into a test's own network namespace

    def __call__(self, *args, input=None, timeout=60, check=False) -> subprocess.CompletedProcess:
        """Run `pycontain ARGS` and capture its output as text."""
        result = subprocess.run([*self.prefix, PYCONTAIN, *map(str, args)], input=input,
                                capture_output=True,
                                text=True, env=self.env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"pycontain {args} failed ({result.returncode}): {result.stderr}")
        return result

    def popen(self, *args, **kwargs) -> subprocess.Popen:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen([*self.prefix, PYCONTAIN, *map(str, args)], env=self.env,
                                text=True, **kwargs)

    def out(self, *args, **kwargs) -> str:
        """stdout of a command that must succeed."""
        return self(*args, check=True, **kwargs).stdout

    def containers(self) -> list:
        directory = self.root / "containers"
        return sorted(os.listdir(directory)) if directory.exists() else []


@pytest.fixture
def pc(engine_env):
    """The engine, plus a check that the test left nothing behind: no container
    directory, state directory, name, host mount, container process or cgroup."""
    engine = Engine(engine_env)
    pids_before = _container_pids(str(engine.root))
    yield engine
    deadline = time.monotonic() + 5
    while True:
        leftovers = {
            "containers": engine.containers(),
            "state": sorted(os.listdir(engine.runroot)) if engine.runroot.exists() else [],
            "names": sorted(os.listdir(engine.root / "names"))
            if (engine.root / "names").exists() else [],
            "mounts": [ln for ln in Path("/proc/self/mountinfo").read_text().splitlines()
                       if str(engine.root) in ln],
            "processes": sorted(_container_pids(str(engine.root)) - pids_before),
            "cgroups": cgroup_dirs(engine.env),
        }
        if not any(leftovers.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if any(leftovers.values()):
        for cid in engine.containers():  # clean up so later tests start clean
            engine("rm", "-f", cid)
        pytest.fail(f"the test left things behind: { {k: v for k, v in leftovers.items() if v} }")


@pytest.fixture
def netns():
    """A network namespace of the test's own (lo up), deleted afterwards: tests
    that create bridges, veths or firewall rules run the engine only in there."""
    name = f"pyctest-{os.getpid()}-{os.urandom(3).hex()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


DEFAULT_BRIDGE = "pycontain0"
DEFAULT_NAT_TABLE = "table ip pycontain-n-pycontain0"


def net_links(pc) -> list:
    """Names of the links in the test's network namespace."""
    out = subprocess.run([*pc.prefix, "ip", "-o", "link"], capture_output=True, text=True).stdout
    return [ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines()]


def dns_servers(pc) -> list:
    """pids of the DNS servers (dnsmasq) serving networks of the test's store."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args[0].endswith(b"dnsmasq") and any(
                a.startswith(b"--hostsdir=" + str(pc.root / "networks").encode()) for a in args):
            found.append(int(entry))
    return found


@pytest.fixture
def npc(pc, netns):
    """`pc` running pycontain inside the test's network namespace (`npc.netns`),
    plus a check that no bridge, veth, firewall table, lease, user network or
    DNS server is left. The default network's bridge and NAT table stay, as
    docker0 does (they go with the namespace)."""
    pc.prefix = ["nsenter", f"--net=/run/netns/{netns}"]
    pc.netns = netns
    yield pc
    networks = pc.root / "networks"
    deadline = time.monotonic() + 5
    while True:
        left = {
            "links": [name for name in net_links(pc) if name not in ("lo", DEFAULT_BRIDGE)],
            "nft": [t for t in subprocess.run([*pc.prefix, "nft", "list", "tables"],
                                              capture_output=True, text=True).stdout.splitlines()
                    if t != DEFAULT_NAT_TABLE],
            "dnsmasq": dns_servers(pc),
            "leases": [str(p) for p in networks.glob("*/leases.json") if p.read_text() != "{}"],
            "networks": sorted(p.name for p in networks.glob("*") if p.name != "bridge"),
        }
        if not any(left.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if any(left.values()):
        for cid in pc.containers():
            pc("rm", "-f", cid)
    shutil.rmtree(networks, ignore_errors=True)  # the next test starts from scratch
    pc.prefix = []
    if any(left.values()):
        pytest.fail(f"the test left network things behind: "
                    f"{ {k: v for k, v in left.items() if v} }")
