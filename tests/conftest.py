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
    from the given store: the containers of this test session, not of others."""
    ours = os.stat("/proc/self/ns/pid").st_ino
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/pid").st_ino == ours:
                continue
            with open(f"/proc/{entry}/mountinfo") as f:
                if store_root not in f.read():
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                found.add((int(entry), f.read().rsplit(b")", 1)[1].split()[19]))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


@pytest.fixture(scope="session")
def engine_env(tmp_path_factory):
    """Environment for running pycontain on a private store with the default images."""
    if os.geteuid() != 0:
        pytest.fail("integration tests need root (they use real namespaces and mounts)")
    root = tmp_path_factory.mktemp("pycontain")
    env = dict(os.environ, PYCONTAIN_ROOT=str(root / "data"), PYCONTAIN_RUNROOT=str(root / "run"))
    layouts = root / "layouts"
    subprocess.run([sys.executable, str(REPO / "rootfs" / "build.py"), str(layouts)],
                   check=True, stdout=subprocess.DEVNULL)
    for name in ("busybox", "python"):
        subprocess.run([PYCONTAIN, "import", f"oci:{layouts / name}", f"localhost/{name}:latest"],
                       check=True, env=env, stdout=subprocess.DEVNULL)
    yield env
    shutil.rmtree(root, ignore_errors=True)


class Engine:
    """Runs the pycontain command against the test store."""

    def __init__(self, env: dict):
        self.env = env
        self.root = Path(env["PYCONTAIN_ROOT"])
        self.runroot = Path(env["PYCONTAIN_RUNROOT"])

    def __call__(self, *args, input=None, timeout=60, check=False) -> subprocess.CompletedProcess:
        """Run `pycontain ARGS` and capture its output as text."""
        result = subprocess.run([PYCONTAIN, *map(str, args)], input=input, capture_output=True,
                                text=True, env=self.env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"pycontain {args} failed ({result.returncode}): {result.stderr}")
        return result

    def popen(self, *args, **kwargs) -> subprocess.Popen:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen([PYCONTAIN, *map(str, args)], env=self.env, text=True, **kwargs)

    def out(self, *args, **kwargs) -> str:
        """stdout of a command that must succeed."""
        return self(*args, check=True, **kwargs).stdout

    def containers(self) -> list:
        directory = self.root / "containers"
        return sorted(os.listdir(directory)) if directory.exists() else []


@pytest.fixture
def pc(engine_env):
    """The engine, plus a check that the test left nothing behind: no container
    directory, state directory, name, host mount or container process."""
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
        }
        if not any(leftovers.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if any(leftovers.values()):
        for cid in engine.containers():  # clean up so later tests start clean
            engine("rm", "-f", cid)
        pytest.fail(f"the test left things behind: { {k: v for k, v in leftovers.items() if v} }")
