"""`pycontain system gc`: cleaning up after engines that were killed."""
import json
import os
import shutil
import signal

from helpers import IDLE, alive, reap, running, wait_for



def rows(pc):
    return {r["Name"]: r for r in json.loads(pc.out("ps", "-a", "--format", "json"))}


def wait_reaped(pid: int):
    """A killed container process whose engine is dead is reaped by the host's
    init, a little later; wait until it is gone from /proc."""
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 30, f"process {pid} to be reaped")


def gc_lines(pc):
    result = pc("system", "gc")
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_gc_removes_an_rm_container_whose_foreground_engine_was_killed(pc):
    proc = pc.popen("run", "--rm", "--name", "x", "busybox", "sleep", "60")
    try:
        wait_for(lambda: running(pc, "x"), what="x to run")
        info = json.loads(pc.out("inspect", "x"))[0]
        cid, pid = info["Id"], info["State"]["Pid"]
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        # the container dies with its engine (issue 17: none is left up unwatched)
        wait_reaped(pid)
        assert cid in pc.containers()  # nothing has looked at it yet

        lines = gc_lines(pc)
        assert len(lines) == 1, lines
        assert "x" in lines[0] and cid[:12] in lines[0]
        assert "x" not in rows(pc)
        assert cid not in pc.containers()
        assert not (pc.runroot / cid).exists()
        assert not os.path.lexists(pc.root / "names" / "x")
        assert gc_lines(pc) == []  # nothing more to do
        # the name can be used again
        assert pc("run", "--rm", "--name", "x", "busybox", "true").returncode == 0
    finally:
        reap(proc)


def test_gc_removes_a_detached_rm_container_whose_monitor_was_killed(pc):
    cid = pc.out("run", "-d", "--rm", "--name", "orphan", "busybox", "sh", "-c", IDLE).strip()
    state = json.loads((pc.runroot / cid / "state.json").read_text())
    pid, monitor = state["pid"], state["monitor_pid"]
    assert monitor and monitor != pid
    os.kill(monitor, signal.SIGKILL)
    wait_reaped(monitor)  # an orphan: the host's init reaps it
    wait_reaped(pid)  # the container dies with its monitor (issue 17)
    assert cid in pc.containers()  # nothing has looked at it yet

    lines = gc_lines(pc)
    assert len(lines) == 1 and "orphan" in lines[0], lines
    assert "orphan" not in rows(pc)


def test_gc_removes_stale_state_dangling_names_and_incomplete_containers(pc):
    stale, dangling, incomplete = "a" * 64, "b" * 64, "c" * 64
    (pc.runroot / stale).mkdir(parents=True)
    (pc.runroot / stale / "state.json").write_text('{"status": "running", "pid": 0}')
    (pc.root / "names").mkdir(parents=True, exist_ok=True)
    os.symlink(dangling, pc.root / "names" / "ghost")
    (pc.root / "containers" / incomplete).mkdir(parents=True)
    try:
        lines = gc_lines(pc)
        assert len(lines) == 3, lines
        assert sum(stale[:12] in ln for ln in lines) == 1
        assert sum("ghost" in ln for ln in lines) == 1
        assert sum(incomplete[:12] in ln for ln in lines) == 1
        assert not (pc.runroot / stale).exists()
        assert not os.path.lexists(pc.root / "names" / "ghost")
        assert not (pc.root / "containers" / incomplete).exists()
        assert gc_lines(pc) == []
    finally:
        for leftover in (pc.runroot / stale, pc.root / "containers" / incomplete):
            shutil.rmtree(leftover, ignore_errors=True)
        if os.path.lexists(pc.root / "names" / "ghost"):
            os.unlink(pc.root / "names" / "ghost")


def test_gc_leaves_live_and_exited_containers_alone(pc):
    live = pc.out("run", "-d", "--name", "live", "busybox", "sleep", "60").strip()
    live_rm = pc.out("run", "-d", "--rm", "--name", "live-rm", "busybox", "sleep", "60").strip()
    assert pc("run", "--name", "done", "busybox", "sh", "-c", "exit 2").returncode == 2
    try:
        before = rows(pc)
        pids = {n: json.loads(pc.out("inspect", n))[0]["State"]["Pid"] for n in ("live", "live-rm")}
        assert gc_lines(pc) == []
        after = rows(pc)
        assert set(after) == {"live", "live-rm", "done"}
        assert after["live"]["State"] == after["live-rm"]["State"] == "running"
        assert after["done"]["State"] == "exited" and after["done"]["ExitCode"] == 2
        assert {n: r["Id"] for n, r in after.items()} == {n: r["Id"] for n, r in before.items()}
        assert all(alive(p) for p in pids.values())
        assert pc("exec", "live", "true").returncode == 0
        assert (pc.runroot / live).is_dir() and (pc.runroot / live_rm).is_dir()
        assert sorted(os.listdir(pc.root / "names")) == ["done", "live", "live-rm"]
    finally:
        pc("rm", "-f", "live", "live-rm", "done")
