"""`start` and `delete` without Python (csrc/runc_fast.c): the launcher alone
lets a created container run when its state says start is only the exec fifo
step, and removes a stopped container when its delete plan says that is all
there is to do; every other case reaches the Python path, with the same
output and exit status (`state` and `kill`: test_runc_fast_verbs.py)."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from helpers import wait_for
from .bundle import RUNC, default_config, state
from .fastcalls import assert_missing_alike, call, created, lone_launcher, named


def test_start_of_a_created_container_needs_no_python(rt, tmp_path):
    pid = created(rt, "c1", tmp_path)
    assert call(lone_launcher(tmp_path), rt.root, "start", "c1") == (0, "", "")
    wait_for(lambda: os.path.exists(f"/proc/{pid}/root/dev/shm/started"), what="start")
    assert state(rt.root, "c1")["status"] == "running"
    assert not (rt.root / "c1" / "exec.fifo").exists()
    rt("delete", "--force", "c1")
    assert not (rt.root / "c1").exists()


def test_fast_and_python_start_answer_alike(rt, tmp_path):
    created(rt, "fast", tmp_path)
    created(rt, "slow", tmp_path)
    first = call(RUNC, rt.root, "start", "fast")
    assert first == call(RUNC, rt.root, "start", "slow", fast=False) == (0, "", "")
    again = call(RUNC, rt.root, "start", "fast")
    assert again == call(RUNC, rt.root, "start", "slow", fast=False)
    assert again[0] == 1 and "cannot start an already running container" in again[2]
    for cid in ("fast", "slow"):
        rt("kill", cid, "KILL")
        wait_for(lambda: state(rt.root, cid)["status"] == "stopped", what="stop")
    stopped = call(RUNC, rt.root, "start", "fast")
    assert stopped == call(RUNC, rt.root, "start", "slow", fast=False)
    assert stopped[0] == 1 and "cannot start a container that has stopped" in stopped[2]
    assert_missing_alike(rt.root, "start")
    for cid in ("fast", "slow"):
        rt("delete", cid)


def test_a_damaged_state_or_marker_goes_to_python(rt, tmp_path):
    lone = lone_launcher(tmp_path)
    created(rt, "c1", tmp_path)
    marker = rt.root / "c1" / "start.fifo-only"
    good = marker.read_bytes()
    for bad in (b"", b"12", b"x\n", b"-1\n", b"9" * 30 + b"\n", good + b"\n", b"1 2 3\n", b" 1 2\n"):
        marker.write_bytes(bad)
        assert call(lone, rt.root, "start", "c1")[0] == 127  # not acted on
    marker.write_bytes(good)
    state_file = rt.root / "c1" / "state"
    saved = state_file.read_bytes()
    state_file.write_bytes(b"\xff" * len(saved))  # same size, damaged
    damaged = call(RUNC, rt.root, "start", "c1")
    assert damaged == call(RUNC, rt.root, "start", "c1", fast=False)
    assert damaged[0] == 1 and 'container "c1": its state is damaged' in damaged[2]
    state_file.write_bytes(saved[:-1])  # another size: not acted on
    assert call(lone, rt.root, "start", "c1")[0] == 127
    state_file.write_bytes(saved)
    assert (rt.root / "c1" / "exec.fifo").exists()  # still created
    assert state(rt.root, "c1")["status"] == "created"
    rt("delete", "--force", "c1")


def test_unknown_flags_and_ids_go_to_python(rt, tmp_path):
    lone = lone_launcher(tmp_path)
    created(rt, "c1", tmp_path)
    for args in (["--bogus", "start", "c1"], ["start", "--x", "c1"], ["start", "c1", "more"]):
        assert subprocess.run([lone, "--root", str(rt.root), *args], capture_output=True,
                              stdin=subprocess.DEVNULL).returncode == 127
    assert subprocess.run([lone, "start", "c1"], capture_output=True).returncode == 127  # not there
    for cid in ("../state/c1", "c1/", "."):
        assert call(lone, rt.root, "start", cid)[0] == 127
    assert state(rt.root, "c1")["status"] == "created"
    rt("delete", "--force", "c1")


def test_a_poststart_hook_keeps_start_in_python(rt, tmp_path):
    out = tmp_path / "hook.out"
    bundle = rt.bundle(["sh", "-c", "sleep 1000"],
                       hooks={"poststart": [{"path": "/bin/sh",
                                             "args": ["sh", "-c", f"cat > {out}"]}]})
    rt("create", "--bundle", bundle, "c1")
    assert not (rt.root / "c1" / "start.fifo-only").exists()
    assert call(lone_launcher(tmp_path), rt.root, "start", "c1")[0] == 127
    assert call(RUNC, rt.root, "start", "c1") == (0, "", "")
    assert '"status": "running"' in out.read_text() or '"status":"running"' in out.read_text()
    rt("delete", "--force", "c1")


def test_a_forced_delete_of_no_container_needs_no_python(rt, tmp_path):
    lone = lone_launcher(tmp_path)
    rt.root.mkdir(exist_ok=True)
    assert call(lone, rt.root, "delete", "--force", "none") == (0, "", "")
    assert call(lone, rt.root, "delete", "-f", "none") == (0, "", "")
    assert call(lone, tmp_path / "no-root", "delete", "--force", "none") == (0, "", "")
    assert call(RUNC, rt.root, "delete", "--force", "none", fast=False) == (0, "", "")
    # not forced, or something is there: the Python path's
    assert call(lone, rt.root, "delete", "none")[0] == 127
    missing = call(RUNC, rt.root, "delete", "none")
    assert missing == call(RUNC, rt.root, "delete", "none", fast=False)
    assert missing[0] == 1 and 'container "none" does not exist' in missing[2]
    (rt.root / "left").mkdir()
    assert call(lone, rt.root, "delete", "--force", "left")[0] == 127
    assert call(RUNC, rt.root, "delete", "--force", "left") == (0, "", "")
    assert not (rt.root / "left").exists()


def test_global_flags_the_callers_pass_keep_the_fast_path(rt, tmp_path):
    lone = lone_launcher(tmp_path)
    rt.root.mkdir(exist_ok=True)
    log = str(tmp_path / "log")
    ok = ["--log", log, "--log-format", "json", "--systemd-cgroup", "--debug",
          "--rootless=false", "--log-format=text"]
    assert call(lone, rt.root, *ok, "delete", "--force", "none") == (0, "", "")
    for bad in (["--log-format", "yaml"], ["--rootless=maybe"], ["--log-format"]):
        assert call(lone, rt.root, *bad, "delete", "--force", "none")[0] == 127
        refused = call(RUNC, rt.root, *bad, "delete", "--force", "none")
        assert refused == call(RUNC, rt.root, *bad, "delete", "--force", "none", fast=False)
        assert refused[0] == 1


def _stopped(rt, cid, tmp_path, **changes):
    """A container that ran `true` and stopped (its cgroups still there)."""
    bundle = rt.bundle(["true"], **changes)
    rt("create", "--bundle", bundle, cid)
    rt("start", cid)
    wait_for(lambda: state(rt.root, cid)["status"] == "stopped", what="stop")
    return bundle


def _plan_dirs(rt, cid) -> list:
    """The cgroup directories of a container's delete plan (k: its cgroups, r/p: made)."""
    lines = (rt.root / cid / "delete.plan").read_text().splitlines()[2:]
    return [line.split(" ", 1) for line in lines]


def test_delete_of_a_stopped_container_needs_no_python(rt, tmp_path):
    lone = lone_launcher(tmp_path)
    _stopped(rt, "c1", tmp_path)
    dirs = _plan_dirs(rt, "c1")
    assert {"k", "r"} <= {kind for kind, _ in dirs}
    assert all(os.path.isdir(d) for _, d in dirs)
    assert call(lone, rt.root, "delete", "c1") == (0, "", "")
    assert not (rt.root / "c1").exists()
    assert not any(os.path.exists(d) for kind, d in dirs if kind != "p")
    _stopped(rt, "c2", tmp_path)
    assert call(lone, rt.root, "delete", "--force", "c2") == (0, "", "")
    assert not (rt.root / "c2").exists()


def test_fast_and_python_delete_answer_alike(rt, tmp_path):
    for cid in ("fast", "slow"):
        bundle = rt.bundle(["sleep", "1000"])
        rt("create", "--bundle", bundle, cid)
        rt("start", cid)
    running = call(RUNC, rt.root, "delete", "fast")
    assert running == named(call(RUNC, rt.root, "delete", "slow", fast=False), "fast")
    assert running[0] == 1 and "that is not stopped: running" in running[2]
    for cid in ("fast", "slow"):
        rt("kill", cid, "KILL")
        wait_for(lambda: state(rt.root, cid)["status"] == "stopped", what="stop")
    dirs = [d for cid in ("fast", "slow") for kind, d in _plan_dirs(rt, cid) if kind != "p"]
    stopped = call(RUNC, rt.root, "--log", tmp_path / "log", "--log-format", "json",
                    "delete", "fast")
    assert stopped == call(RUNC, rt.root, "--log", tmp_path / "log", "--log-format", "json",
                            "delete", "slow", fast=False) == (0, "", "")
    assert not (tmp_path / "log").exists()
    assert not any(os.path.exists(d) for d in dirs) and os.listdir(rt.root) == []
    again = call(RUNC, rt.root, "delete", "fast")
    assert again == named(call(RUNC, rt.root, "delete", "slow", fast=False), "fast")
    assert again[0] == 1 and 'container "fast" does not exist' in again[2]


def test_a_created_container_is_deleted_by_python(rt, tmp_path):
    pid = created(rt, "c1", tmp_path)
    assert call(lone_launcher(tmp_path), rt.root, "delete", "c1")[0] == 127  # its init is alive
    assert call(RUNC, rt.root, "delete", "c1") == (0, "", "")  # created: killed, as runc
    wait_for(lambda: not os.path.exists(f"/proc/{pid}/root/bin"), what="the init gone")
    assert not (rt.root / "c1").exists()


def test_a_damaged_plan_or_state_leaves_delete_to_python(rt, tmp_path):
    lone = lone_launcher(tmp_path)
    _stopped(rt, "c1", tmp_path)
    plan = rt.root / "c1" / "delete.plan"
    good = plan.read_bytes()
    head, pids, rest = good.split(b"\n", 2)
    for bad in (b"", head + b"\n", good + b"x", good + b"q /x\n", good + b"k rel\n",
                head + b"\n" + pids + b"\n" + rest.replace(b"k /", b"k  /", 1),
                head + b"\n0 1\n" + rest, b"1 " + good, head + b"\n" + pids + b"\n\0"):
        plan.write_bytes(bad)
        assert call(lone, rt.root, "delete", "c1")[0] == 127  # not acted on
    plan.write_bytes(good)
    state_file = rt.root / "c1" / "state"
    saved = state_file.read_bytes()
    state_file.write_bytes(saved[:-1] + bytes([saved[-1] ^ 1]))  # same size, changed
    assert call(lone, rt.root, "delete", "c1")[0] == 127
    state_file.write_bytes(saved)
    (rt.root / "c1" / "other").write_text("")  # not the runtime's: Python removes it
    assert call(lone, rt.root, "delete", "c1")[0] == 127
    assert all(os.path.isdir(d) for _, d in _plan_dirs(rt, "c1"))
    assert call(RUNC, rt.root, "delete", "c1") == (0, "", "")
    assert not (rt.root / "c1").exists()


def test_a_process_left_in_the_cgroup_is_killed_by_python(rt, tmp_path):
    """A container without its own pid namespace: delete kills what is left
    in its cgroup (runc's rule; with one, see test_runc_exec_kill)."""
    linux = default_config(["true"])["linux"]
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "pid"]
    _stopped(rt, "c1", tmp_path, linux=linux)
    leaf = next(d for kind, d in _plan_dirs(rt, "c1") if kind == "k")
    left = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
    try:
        with open(os.path.join(leaf, "cgroup.procs"), "w") as f:
            f.write(str(left.pid))
        assert call(lone_launcher(tmp_path), rt.root, "delete", "c1")[0] == 127
        assert all(os.path.isdir(d) for _, d in _plan_dirs(rt, "c1"))
        assert call(RUNC, rt.root, "delete", "c1") == (0, "", "")
        assert left.wait(timeout=30) == -9
    finally:
        left.kill()
        left.wait()
    assert not (rt.root / "c1").exists() and not os.path.exists(leaf)


def test_a_poststop_hook_keeps_delete_in_python(rt, tmp_path):
    out = tmp_path / "hook.out"
    _stopped(rt, "c1", tmp_path, hooks={"poststop": [{"path": "/bin/sh",
                                                      "args": ["sh", "-c", f"cat > {out}"]}]})
    assert not (rt.root / "c1" / "delete.plan").exists()
    assert call(lone_launcher(tmp_path), rt.root, "delete", "c1")[0] == 127
    assert call(RUNC, rt.root, "delete", "c1") == (0, "", "")
    assert '"stopped"' in out.read_text()


def test_the_default_root_is_the_python_paths(tmp_path):
    """No --root (as podman calls it), or an empty one: state.default_root."""
    lone = lone_launcher(tmp_path)
    for root in ([], ["--root="]):
        proc = subprocess.run([lone, *root, "delete", "--force", f"none-{os.getpid()}"],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    top = Path(tempfile.mkdtemp(prefix="pycontain-runc-test-"))  # nobody may look in it
    try:
        top.chmod(0o755)
        (top / "bin").mkdir()
        shutil.copy(lone, top / "bin" / "pycontain-runc")
        env = {"PATH": os.environ["PATH"], "XDG_RUNTIME_DIR": str(top / "xdg")}

        def nobody_deletes():
            return subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534",
                                   "--clear-groups", top / "bin" / "pycontain-runc",
                                   "delete", "--force", "none"], env=env,
                                  capture_output=True, stdin=subprocess.DEVNULL).returncode
        assert nobody_deletes() == 0  # $XDG_RUNTIME_DIR/pycontain-runc/none: not there
        (top / "xdg" / "pycontain-runc" / "none").mkdir(parents=True)
        assert nobody_deletes() == 127  # there: the Python path's to remove
        del env["XDG_RUNTIME_DIR"]
        assert nobody_deletes() == 127  # no root to look in: the Python path says so
    finally:
        shutil.rmtree(top)
