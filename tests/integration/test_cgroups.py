"""Resource limits on the real kernel: cgroup v1 on the hybrid test host, v2 in
the VM guest (tests/vm/run.sh). Every test also checks, through the `pc`
fixture, that no cgroup of pycontain's is left behind."""
import json
import os
import resource
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import _cgroup_parents

from pycontain.oci.cgroups.hierarchy import own_v1_cgroups

V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
# v2 file, or (v1 hierarchy, v1 file), for what the tests read from the host
FILES = {"cpu": ("cpu.stat", ("cpuacct", "cpuacct.usage")),
         "pids": ("pids.current", ("pids", "pids.current")),
         "pids.events": ("pids.events", ("pids", "pids.events")),
         "memory.limit": ("memory.max", ("memory", "memory.limit_in_bytes"))}


def cgroup_file(pc, cid: str, what: str) -> str:
    v2_name, (hierarchy, v1_name) = FILES[what]
    parent = pc.env["PYCONTAIN_CGROUP_PARENT"]
    if V2:
        return f"/sys/fs/cgroup/{parent}/{cid}/{v2_name}"
    own = own_v1_cgroups().get(hierarchy, "")  # v1 cgroups nest under the engine's own
    return os.path.join("/sys/fs/cgroup", hierarchy, own, parent, cid, v1_name)


def cpu_seconds(pc, cid: str) -> float:
    with open(cgroup_file(pc, cid, "cpu")) as f:
        text = f.read()
    if V2:
        return int(text.split("usage_usec")[1].split()[0]) / 1e6
    return int(text) / 1e9


def inspect(pc, ref: str) -> dict:
    return json.loads(pc.out("inspect", ref))[0]


def full_id(pc, ref: str) -> str:
    return inspect(pc, ref)["Id"]


def stats(pc, ref: str) -> dict:
    return json.loads(pc.out("stats", "--no-stream", "--format", "json", ref))


def test_memory_hog_is_oom_killed(pc):
    result = pc("run", "--name", "hog", "-m", "32m", "busybox", "sh", "-c", "tail /dev/zero",
                timeout=120)
    assert result.returncode == 137, result.stderr
    assert inspect(pc, "hog")["State"]["OOMKilled"] is True
    pc.out("rm", "hog")


def test_no_oom_flag_without_oom(pc):
    assert pc("run", "--name", "calm", "-m", "32m", "busybox", "true").returncode == 0
    assert inspect(pc, "calm")["State"]["OOMKilled"] is False
    pc.out("rm", "calm")


def test_fork_bomb_is_contained_and_cleaned_up(pc):
    cid = pc.out("run", "-d", "--pids-limit", "20", "busybox", "sh", "-c",
                 "(f(){ f|f& }; f); exec sleep 1000").strip()
    try:
        peak, deadline = 0, time.monotonic() + 3
        while time.monotonic() < deadline:
            with open(cgroup_file(pc, cid, "pids")) as f:
                peak = max(peak, int(f.read()))
        start = time.monotonic()
        subprocess.run(["true"], check=True)
        assert time.monotonic() - start < 2, "the host is not responsive"
        with open(cgroup_file(pc, cid, "pids.events")) as f:
            refused = int(f.read().split()[1])
        # refused forks prove the limit bit; the bomb may be over before sampling starts
        assert peak <= 20 and refused > 0, (peak, refused)
    finally:
        pc.out("rm", "-f", cid)


def test_cpus_half_a_cpu(pc):
    """The quota is a ceiling: no 3 s window may exceed 0.6 CPU. A window below
    0.4 can be other load on this shared machine, so up to three are measured."""
    cid = pc.out("run", "-d", "--cpus", "0.5", "busybox", "sh", "-c",
                 "while :; do :; done").strip()
    try:
        time.sleep(0.5)
        shares = []
        for _ in range(3):
            used, start = cpu_seconds(pc, cid), time.monotonic()
            time.sleep(3)
            shares.append((cpu_seconds(pc, cid) - used) / (time.monotonic() - start))
            assert shares[-1] <= 0.6, shares
            if shares[-1] >= 0.4:
                break
        assert 0.4 <= shares[-1] <= 0.6, shares
    finally:
        pc.out("rm", "-f", cid)


def test_limits_are_visible_inside(pc):
    if V2:
        script = "cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"
        expected = ["0::/", "33554432", "20"]
    else:
        script = ("grep -c ':/$' /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
                  " /sys/fs/cgroup/pids/pids.max")
        expected = [str(len(open("/proc/self/cgroup").read().splitlines())), "33554432", "20"]
    out = pc.out("run", "--rm", "-m", "32m", "--pids-limit", "20", "busybox", "sh", "-c", script)
    assert out.split() == expected
    writable = pc("run", "--rm", "busybox", "sh", "-c", "mkdir /sys/fs/cgroup/x")
    assert writable.returncode != 0 and "Read-only" in writable.stderr


def test_update_changes_memory_limit_and_stats_move(pc):
    cid = pc.out("run", "-d", "-m", "64m", "busybox", "sh", "-c", "while :; do :; done").strip()
    try:
        pc.out("update", "-m", "128m", cid)
        with open(cgroup_file(pc, cid, "memory.limit")) as f:
            assert int(f.read()) == 128 << 20
        inside = "memory.max" if V2 else "memory/memory.limit_in_bytes"
        assert pc.out("exec", cid, "cat", f"/sys/fs/cgroup/{inside}").strip() == str(128 << 20)
        before = stats(pc, cid)
        assert before["MemoryLimitBytes"] == 128 << 20
        pc.out("exec", cid, "dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", "count=16")
        after = stats(pc, cid)
        assert after["MemoryUsageBytes"] - before["MemoryUsageBytes"] >= 8 << 20
        assert after["CPUUsageUsec"] > before["CPUUsageUsec"]
        assert float(after["CPUPerc"].rstrip("%")) > 20
        assert "MEM USAGE / LIMIT" in pc.out("stats", "--no-stream")
    finally:
        pc.out("rm", "-f", cid)


def test_exec_joins_the_container_cgroup(pc):
    cid = pc.out("run", "-d", "--pids-limit", "10", "busybox", "sleep", "100").strip()
    try:
        assert pc.out("exec", cid, "cat", "/sys/fs/cgroup/" + ("pids.current" if V2 else
                                                             "pids/pids.current")).strip() == "2"
    finally:
        pc.out("rm", "-f", cid)


def test_pids_limit_zero_or_minus_one_is_unlimited_other_negatives_refused(pc):
    """docker's API: "Set 0 or -1 for unlimited"; -5 is refused (docker's engine
    would read it as unlimited too), by run and by update."""
    pids_max = "/sys/fs/cgroup/" + ("pids.max" if V2 else "pids/pids.max")
    for value in ("0", "-1"):
        assert pc.out("run", "--rm", "--pids-limit", value, "busybox", "cat", pids_max) == "max\n"
    cid = pc.out("run", "-d", "--pids-limit", "10", "busybox", "sleep", "100").strip()
    try:
        result = pc("update", "--pids-limit", "-5", cid)
        assert result.returncode == 125 and "--pids-limit" in result.stderr, result.stderr
        assert pc.out("exec", cid, "cat", pids_max) == "10\n"
        pc.out("update", "--pids-limit", "0", cid)
        assert pc.out("exec", cid, "cat", pids_max) == "max\n"
    finally:
        pc.out("rm", "-f", cid)


def test_unenforceable_limit_fails_clearly(pc):
    cpus = os.cpu_count() + 7
    result = pc("run", "--rm", "--cpuset-cpus", str(cpus), "busybox", "true")
    assert result.returncode == 125
    assert result.stderr.startswith("pycontain: cannot set cpuset.cpus") and \
        result.stderr.count("\n") == 1, result.stderr


def test_ulimits(pc):
    out = pc.out("run", "--rm", "--ulimit", "nofile=1024:2048", "busybox", "sh", "-c",
                 "ulimit -n; ulimit -Hn")
    assert out.split() == ["1024", "2048"]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no finite nofile hard limit to exceed")
    result = pc("run", "--rm", "--ulimit", f"nofile={hard + 1}", "busybox", "true")
    if result.returncode == 0:
        assert "CapEff" and os.geteuid() == 0  # CAP_SYS_RESOURCE present: allowed
        return
    assert result.returncode == 125 and "CAP_SYS_RESOURCE" in result.stderr, result.stderr


@pytest.mark.parametrize("args, message", [
    (["-m", "lots"], "invalid size for --memory"),
    (["-m", "1m"], "minimum memory limit"),
    (["--memory-swap", "64m"], "--memory-swap needs --memory"),
    (["--cpus", "1000"], "--cpus must be between"),
    (["--pids-limit", "x"], "invalid value for --pids-limit"),
])
def test_bad_limit_flags(pc, args, message):
    result = pc("run", "--rm", *args, "busybox", "true")
    assert result.returncode == 125 and message in result.stderr, result.stderr


def test_gc_removes_cgroup_of_killed_monitor(pc):
    cid = pc.out("run", "-d", "--rm", "-m", "32m", "busybox", "sleep", "100").strip()
    monitor = json.loads(open(os.path.join(pc.runroot, cid, "state.json")).read())["monitor_pid"]
    os.kill(monitor, 9)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{monitor}") and time.monotonic() < deadline:
        time.sleep(0.05)  # an orphan: the host's init reaps it
    assert os.path.exists(cgroup_file(pc, cid, "memory.limit"))
    out = pc.out("system", "gc")
    assert cid[:12] in out
    assert not os.path.exists(cgroup_file(pc, cid, "memory.limit"))


def test_the_last_container_takes_pycontains_cgroup_parent_with_it(pc):
    """Containers starting and ending at once, each removing the parent when it
    is the last in it, while others make it again: all run, none is left."""
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: pc("run", "--rm", "busybox", "true"), range(16)))
    assert [r.returncode for r in results] == [0] * 16, \
        [(r.returncode, r.stdout, r.stderr) for r in results if r.returncode]
    assert _cgroup_parents(pc.env["PYCONTAIN_CGROUP_PARENT"]) == []
