"""Fixtures for the pycontain-runc tests: a private runtime root and cgroup
parent per test, and a check that the test left nothing behind."""
import json
import os
import time
from pathlib import Path

import pytest

from .bundle import make_bundle, runc


class Runtime:
    """pycontain-runc with a private --root; bundles under tmp."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.root = tmp / "state"
        self.cgroup_parent = f"pycontain-runc-test-{os.getpid()}-{os.urandom(3).hex()}"
        self.count = 0

    def __call__(self, *args, **kw):
        return runc(self.root, *args, **kw)

    def bundle(self, args, **changes) -> Path:
        """A new bundle whose cgroup sits under the test's own parent."""
        self.count += 1
        path = self.tmp / f"bundle{self.count}"
        path.mkdir()
        bundle = make_bundle(path, args, **changes)
        config = json.loads((bundle / "config.json").read_text())
        config["linux"].setdefault("cgroupsPath", f"{self.cgroup_parent}/c{self.count}")
        (bundle / "config.json").write_text(json.dumps(config))
        return bundle

    def cgroups(self) -> list:
        own = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            own[names] = path.strip("/")
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):  # v2
            base = Path("/sys/fs/cgroup", own.get("", ""), self.cgroup_parent)
            return [str(base)] if base.is_dir() else []
        found = []
        for name in os.listdir("/sys/fs/cgroup"):
            base = Path("/sys/fs/cgroup", name, own.get(name, ""), self.cgroup_parent)
            if base.is_dir():
                found.append(str(base))
        return found


def _processes_under(path: Path) -> list:
    """Processes whose root directory is inside path (containers of the test)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/root").startswith(str(path)):
                    found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.fixture
def rt(tmp_path):
    runtime = Runtime(tmp_path)
    yield runtime
    deadline = time.monotonic() + 5
    while True:
        left = {"state": sorted(os.listdir(runtime.root)) if runtime.root.exists() else [],
                "processes": _processes_under(tmp_path),
                "cgroups": [c for c in runtime.cgroups() if os.listdir(c) and any(
                    os.path.isdir(os.path.join(c, e)) for e in os.listdir(c))]}
        if not any(left.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for cid in left["state"]:
        runtime("delete", "--force", cid, check=False)
    for pid in left["processes"]:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    for parent in runtime.cgroups():
        for entry in os.scandir(parent):
            if entry.is_dir():
                os.rmdir(entry.path)
        os.rmdir(parent)
    if any(left.values()):
        pytest.fail(f"the test left things behind: { {k: v for k, v in left.items() if v} }")
