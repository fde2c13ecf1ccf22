"""`start` and `delete` without Python (csrc/runc_fast.c): the launcher alone
lets a created container run when its state says start is only the exec fifo
step, and removes a stopped container when its delete plan says that is all
there is to do; every other case reaches the Python path, with the same
output and exit status."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from helpers import wait_for
from .bundle import RUNC, state


def _lone(tmp_path):
    """The launcher copied where no python3 is beside it: the Python path
    fails there (exit 127), so a success is the C path's alone."""
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(RUNC, lone / "pycontain-runc")
    return str(lone / "pycontain-runc")


def _call(binary, root, *args, fast=True):
    env = dict(os.environ)
    env.pop("PYCONTAIN_RUNC_NO_FAST", None)
    if not fast:
        env["PYCONTAIN_RUNC_NO_FAST"] = "1"
    proc = subprocess.run([binary, "--root", str(root), *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, env=env, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def _created(rt, cid, tmp_path):
    bundle = rt.bundle(["sh", "-c", "touch /dev/shm/started; sleep 1000"])
    rt("create", "--bundle", bundle, "--pid-file", tmp_path / f"{cid}.pid", cid)
    return int((tmp_path / f"{cid}.pid").read_text())


def test_start_of_a_created_container_needs_no_python(rt, tmp_path):
    pid = _created(rt, "c1", tmp_path)
    assert _call(_lone(tmp_path), rt.root, "start", "c1") == (0, "", "")
    wait_for(lambda: os.path.exists(f"/proc/{pid}/root/dev/shm/started"), what="start")
    assert state(rt.root, "c1")["status"] == "running"
    assert not (rt.root / "c1" / "exec.fifo").exists()
    rt("delete", "--force", "c1")
    assert not (rt.root / "c1").exists()


def test_fast_and_python_start_answer_alike(rt, tmp_path):
    _created(rt, "fast", tmp_path)
    _created(rt, "slow", tmp_path)
    first = _call(RUNC, rt.root, "start", "fast")
    assert first == _call(RUNC, rt.root, "start", "slow", fast=False) == (0, "", "")
    again = _call(RUNC, rt.root, "start", "fast")
    assert again == _call(RUNC, rt.root, "start", "slow", fast=False)
    assert again[0] == 1 and "cannot start an already running container" in again[2]
    for cid in ("fast", "slow"):
        rt("kill", cid, "KILL")
        wait_for(lambda: state(rt.root, cid)["status"] == "stopped", what="stop")
    stopped = _call(RUNC, rt.root, "start", "fast")
    assert stopped == _call(RUNC, rt.root, "start", "slow", fast=False)
    assert stopped[0] == 1 and "cannot start a container that has stopped" in stopped[2]
    missing = _call(RUNC, rt.root, "start", "nothere")
    assert missing == _call(RUNC, rt.root, "start", "nothere", fast=False)
    assert missing[0] == 1 and 'container "nothere" does not exist' in missing[2]
    for cid in ("fast", "slow"):
        rt("delete", cid)


def test_a_damaged_state_or_marker_goes_to_python(rt, tmp_path):
    lone = _lone(tmp_path)
    _created(rt, "c1", tmp_path)
    marker = rt.root / "c1" / "start.fifo-only"
    good = marker.read_bytes()
    for bad in (b"", b"12", b"x\n", b"-1\n", b"9" * 30 + b"\n", good + b"\n", b"1 2 3\n", b" 1 2\n"):
        marker.write_bytes(bad)
        assert _call(lone, rt.root, "start", "c1")[0] == 127  # not acted on
    marker.write_bytes(good)
    state_file = rt.root / "c1" / "state"
    saved = state_file.read_bytes()
    state_file.write_bytes(b"\xff" * len(saved))  # same size, damaged
    damaged = _call(RUNC, rt.root, "start", "c1")
    assert damaged == _call(RUNC, rt.root, "start", "c1", fast=False)
    assert damaged[0] == 1 and 'container "c1": its state is damaged' in damaged[2]
    state_file.write_bytes(saved[:-1])  # another size: not acted on
    assert _call(lone, rt.root, "start", "c1")[0] == 127
    state_file.write_bytes(saved)
    assert (rt.root / "c1" / "exec.fifo").exists()  # still created
    assert state(rt.root, "c1")["status"] == "created"
    rt("delete", "--force", "c1")


def test_unknown_flags_and_ids_go_to_python(rt, tmp_path):
    lone = _lone(tmp_path)
    _created(rt, "c1", tmp_path)
    for args in (["--bogus", "start", "c1"], ["start", "--x", "c1"], ["start", "c1", "more"]):
        assert subprocess.run([lone, "--root", str(rt.root), *args], capture_output=True,
                              stdin=subprocess.DEVNULL).returncode == 127
    assert subprocess.run([lone, "start", "c1"], capture_output=True).returncode == 127  # not there
    for cid in ("../state/c1", "c1/", "."):
        assert _call(lone, rt.root, "start", cid)[0] == 127
    assert state(rt.root, "c1")["status"] == "created"
    rt("delete", "--force", "c1")


def test_a_poststart_hook_keeps_start_in_python(rt, tmp_path):
    out = tmp_path / "hook.out"
    bundle = rt.bundle(["sh", "-c", "sleep 1000"],
                       hooks={"poststart": [{"path": "/bin/sh",
                                             "args": ["sh", "-c", f"cat > {out}"]}]})
    rt("create", "--bundle", bundle, "c1")
    assert not (rt.root / "c1" / "start.fifo-only").exists()
    assert _call(_lone(tmp_path), rt.root, "start", "c1")[0] == 127
    assert _call(RUNC, rt.root, "start", "c1") == (0, "", "")
    assert '"status": "running"' in out.read_text() or '"status":"running"' in out.read_text()
    rt("delete", "--force", "c1")


def test_a_forced_delete_of_no_container_needs_no_python(rt, tmp_path):
    lone = _lone(tmp_path)
    rt.root.mkdir(exist_ok=True)
    assert _call(lone, rt.root, "delete", "--force", "none") == (0, "", "")
    assert _call(lone, rt.root, "delete", "-f", "none") == (0, "", "")
    assert _call(lone, tmp_path / "no-root", "delete", "--force", "none") == (0, "", "")
    assert _call(RUNC, rt.root, "delete", "--force", "none", fast=False) == (0, "", "")
    # not forced, or something is there: the Python path's
    assert _call(lone, rt.root, "delete", "none")[0] == 127
    missing = _call(RUNC, rt.root, "delete", "none")
    assert missing == _call(RUNC, rt.root, "delete", "none", fast=False)
    assert missing[0] == 1 and 'container "none" does not exist' in missing[2]
    (rt.root / "left").mkdir()
    assert _call(lone, rt.root, "delete", "--force", "left")[0] == 127
    assert _call(RUNC, rt.root, "delete", "--force", "left") == (0, "", "")
    assert not (rt.root / "left").exists()


def test_global_flags_the_callers_pass_keep_the_fast_path(rt, tmp_path):
    lone = _lone(tmp_path)
    rt.root.mkdir(exist_ok=True)
    log = str(tmp_path / "log")
    ok = ["--log", log, "--log-format", "json", "--systemd-cgroup", "--debug",
          "--rootless=false", "--log-format=text"]
    assert _call(lone, rt.root, *ok, "delete", "--force", "none") == (0, "", "")
    for bad in (["--log-format", "yaml"], ["--rootless=maybe"], ["--log-format"]):
        assert _call(lone, rt.root, *bad, "delete", "--force", "none")[0] == 127
        refused = _call(RUNC, rt.root, *bad, "delete", "--force", "none")
        assert refused == _call(RUNC, rt.root, *bad, "delete", "--force", "none", fast=False)
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


def _named(result, cid):
    """A call's result about container "slow" as it reads about container cid."""
    code, out, err = result
    return code, out.replace("slow", cid), err.replace("slow", cid)


def test_delete_of_a_stopped_container_needs_no_python(rt, tmp_path):
    lone = _lone(tmp_path)
    _stopped(rt, "c1", tmp_path)
    dirs = _plan_dirs(rt, "c1")
    assert {"k", "r"} <= {kind for kind, _ in dirs}
    assert all(os.path.isdir(d) for _, d in dirs)
    assert _call(lone, rt.root, "delete", "c1") == (0, "", "")
    assert not (rt.root / "c1").exists()
    assert not any(os.path.exists(d) for kind, d in dirs if kind != "p")
    _stopped(rt, "c2", tmp_path)
    assert _call(lone, rt.root, "delete", "--force", "c2") == (0, "", "")
    assert not (rt.root / "c2").exists()


def test_fast_and_python_delete_answer_alike(rt, tmp_path):
    for cid in ("fast", "slow"):
        bundle = rt.bundle(["sleep", "1000"])
        rt("create", "--bundle", bundle, cid)
        rt("start", cid)
    running = _call(RUNC, rt.root, "delete", "fast")
    assert running == _named(_call(RUNC, rt.root, "delete", "slow", fast=False), "fast")
    assert running[0] == 1 and "that is not stopped: running" in running[2]
    for cid in ("fast", "slow"):
        rt("kill", cid, "KILL")
        wait_for(lambda: state(rt.root, cid)["status"] == "stopped", what="stop")
    dirs = [d for cid in ("fast", "slow") for kind, d in _plan_dirs(rt, cid) if kind != "p"]
    stopped = _call(RUNC, rt.root, "--log", tmp_path / "log", "--log-format", "json",
                    "delete", "fast")
    assert stopped == _call(RUNC, rt.root, "--log", tmp_path / "log", "--log-format", "json",
                            "delete", "slow", fast=False) == (0, "", "")
    assert not (tmp_path / "log").exists()
    assert not any(os.path.exists(d) for d in dirs) and os.listdir(rt.root) == []
    again = _call(RUNC, rt.root, "delete", "fast")
    assert again == _named(_call(RUNC, rt.root, "delete", "slow", fast=False), "fast")
    assert again[0] == 1 and 'container "fast" does not exist' in again[2]


def test_a_created_container_is_deleted_by_python(rt, tmp_path):
    pid = _created(rt, "c1", tmp_path)
    assert _call(_lone(tmp_path), rt.root, "delete", "c1")[0] == 127  # its init is alive
    assert _call(RUNC, rt.root, "delete", "c1") == (0, "", "")  # created: killed, as runc
    wait_for(lambda: not os.path.exists(f"/proc/{pid}/root/bin"), what="the init gone")
    assert not (rt.root / "c1").exists()


def test_a_damaged_plan_or_state_leaves_delete_to_python(rt, tmp_path):
    lone = _lone(tmp_path)
    _stopped(rt, "c1", tmp_path)
    plan = rt.root / "c1" / "delete.plan"
    good = plan.read_bytes()
    head, pids, rest = good.split(b"\n", 2)
    for bad in (b"", head + b"\n", good + b"x", good + b"q /x\n", good + b"k rel\n",
                head + b"\n" + pids + b"\n" + rest.replace(b"k /", b"k  /", 1),
                head + b"\n0 1\n" + rest, b"1 " + good, head + b"\n" + pids + b"\n\0"):
        plan.write_bytes(bad)
        assert _call(lone, rt.root, "delete", "c1")[0] == 127  # not acted on
    plan.write_bytes(good)
    state_file = rt.root / "c1" / "state"
    saved = state_file.read_bytes()
    state_file.write_bytes(saved[:-1] + bytes([saved[-1] ^ 1]))  # same size, changed
    assert _call(lone, rt.root, "delete", "c1")[0] == 127
    state_file.write_bytes(saved)
    (rt.root / "c1" / "other").write_text("")  # not the runtime's: Python removes it
    assert _call(lone, rt.root, "delete", "c1")[0] == 127
    assert all(os.path.isdir(d) for _, d in _plan_dirs(rt, "c1"))
    assert _call(RUNC, rt.root, "delete", "c1") == (0, "", "")
    assert not (rt.root / "c1").exists()


def test_a_process_left_in_the_cgroup_is_killed_by_python(rt, tmp_path):
    _stopped(rt, "c1", tmp_path)
    leaf = next(d for kind, d in _plan_dirs(rt, "c1") if kind == "k")
    left = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
    try:
        with open(os.path.join(leaf, "cgroup.procs"), "w") as f:
            f.write(str(left.pid))
        assert _call(_lone(tmp_path), rt.root, "delete", "c1")[0] == 127
        assert all(os.path.isdir(d) for _, d in _plan_dirs(rt, "c1"))
        assert _call(RUNC, rt.root, "delete", "c1") == (0, "", "")
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
    assert _call(_lone(tmp_path), rt.root, "delete", "c1")[0] == 127
    assert _call(RUNC, rt.root, "delete", "c1") == (0, "", "")
    assert '"stopped"' in out.read_text()


def test_the_default_root_is_the_python_paths(tmp_path):
    """No --root (as podman calls it), or an empty one: state.default_root."""
    lone = _lone(tmp_path)
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


TRAPS = ("trap 'echo TERM > /dev/shm/sig' TERM; trap 'echo USR1 > /dev/shm/sig' USR1; "
         "touch /dev/shm/ready; while :; do sleep 0.05; done")


def _running(rt, cid):
    """A running container whose init notes the TERM or USR1 it gets in /dev/shm/sig."""
    rt("create", "--bundle", rt.bundle(["sh", "-c", TRAPS]), cid)
    rt("start", cid)
    pid = state(rt.root, cid)["pid"]
    wait_for(lambda: os.path.exists(f"/proc/{pid}/root/dev/shm/ready"), what="the traps")
    return pid


def _noted(pid, name):
    sig = f"/proc/{pid}/root/dev/shm/sig"
    wait_for(lambda: os.path.exists(sig) and open(sig).read() == name + "\n", what=name)


def test_kill_of_a_running_container_needs_no_python(rt, tmp_path):
    lone = _lone(tmp_path)
    pid = _running(rt, "c1")
    assert _call(lone, rt.root, "kill", "c1") == (0, "", "")  # TERM, as runc
    _noted(pid, "TERM")
    for signal in ("USR1", "sigusr1", "10"):
        os.unlink(f"/proc/{pid}/root/dev/shm/sig")
        assert _call(lone, rt.root, "kill", "c1", signal) == (0, "", "")
        _noted(pid, "USR1")
    assert _call(lone, rt.root, "kill", "c1", "KILL") == (0, "", "")
    wait_for(lambda: state(rt.root, "c1")["status"] == "stopped", what="stop")
    rt("delete", "c1")


def test_fast_and_python_kill_answer_alike(rt, tmp_path):
    for cid in ("fast", "slow"):
        _running(rt, cid)
    for args in (["USR1"], ["SIGUSR1"], ["10"], ["CONT"], ["BOGUS"], ["0"], ["65"], [""],
                 ["99999999999999999999"], ["Kill\u00e9"]):
        fast = _call(RUNC, rt.root, "kill", "fast", *args)
        assert fast == _named(_call(RUNC, rt.root, "kill", "slow", *args, fast=False), "fast")
    assert _call(RUNC, rt.root, "kill", "fast", "BOGUS")[2].endswith("invalid signal: BOGUS\n")
    for cid in ("fast", "slow"):
        rt("kill", cid, "KILL")
        wait_for(lambda: state(rt.root, cid)["status"] == "stopped", what="stop")
    stopped = _call(RUNC, rt.root, "kill", "fast", "KILL")
    assert stopped == _named(_call(RUNC, rt.root, "kill", "slow", "KILL", fast=False), "fast")
    assert stopped[0] == 1 and "container not running" in stopped[2]
    missing = _call(RUNC, rt.root, "kill", "nothere")
    assert missing == _call(RUNC, rt.root, "kill", "nothere", fast=False)
    assert missing[0] == 1 and 'container "nothere" does not exist' in missing[2]
    for cid in ("fast", "slow"):
        rt("delete", cid)


def test_kill_all_and_a_stopped_init_go_to_python(rt, tmp_path):
    lone = _lone(tmp_path)
    _running(rt, "c1")
    assert _call(lone, rt.root, "kill", "--all", "c1", "KILL")[0] == 127
    assert _call(lone, rt.root, "kill", "c1", "BOGUS")[0] == 127
    assert state(rt.root, "c1")["status"] == "running"
    rt("kill", "c1", "KILL")
    wait_for(lambda: state(rt.root, "c1")["status"] == "stopped", what="stop")
    assert _call(lone, rt.root, "kill", "c1", "KILL")[0] == 127  # the error is Python's
    rt("delete", "c1")


def test_state_of_a_live_container_needs_no_python(rt, tmp_path):
    lone = _lone(tmp_path)
    pid = _created(rt, "c1", tmp_path)
    code, out, err = _call(lone, rt.root, "state", "c1")
    assert (code, err) == (0, "") and json.loads(out)["status"] == "created"
    assert json.loads(out)["pid"] == pid
    rt("start", "c1")
    assert json.loads(_call(lone, rt.root, "state", "c1")[1])["status"] == "running"
    rt("pause", "c1")
    assert json.loads(_call(lone, rt.root, "state", "c1")[1])["status"] == "paused"
    rt("resume", "c1")
    rt("kill", "c1", "KILL")
    wait_for(lambda: _call(lone, rt.root, "state", "c1")[0] == 127, what="stopped: Python's")
    rt("delete", "c1")


def test_fast_and_python_state_answer_alike(rt, tmp_path):
    """Byte for byte: the same container's state both ways, in every status."""
    annotations = {"a": "quote \" backslash \\ tab \t", "b": "x" * 300}
    bundle = rt.bundle(["sh", "-c", "sleep 1000"], annotations=annotations)
    rt("create", "--bundle", bundle, "c1")

    def alike(status):
        fast = _call(RUNC, rt.root, "state", "c1")
        assert fast == _call(RUNC, rt.root, "state", "c1", fast=False)
        assert json.loads(fast[1])["status"] == status
        assert json.loads(fast[1])["annotations"] == annotations
    alike("created")
    rt("start", "c1")
    alike("running")
    rt("pause", "c1")
    alike("paused")
    rt("resume", "c1")
    rt("kill", "c1", "KILL")
    wait_for(lambda: state(rt.root, "c1")["status"] == "stopped", what="stop")
    alike("stopped")
    rt("delete", "c1")
    missing = _call(RUNC, rt.root, "state", "c1")
    assert missing == _call(RUNC, rt.root, "state", "c1", fast=False)
    assert missing[0] == 1 and 'container "c1" does not exist' in missing[2]


def test_a_state_python_would_print_otherwise_stays_in_python(rt, tmp_path):
    lone = _lone(tmp_path)
    bundle = rt.bundle(["sh", "-c", "sleep 1000"], annotations={"name": "caf\u00e9"})
    rt("create", "--bundle", bundle, "c1")  # not ASCII: no view
    assert not (rt.root / "c1" / "state.view").exists()
    assert _call(lone, rt.root, "state", "c1")[0] == 127
    assert json.loads(_call(RUNC, rt.root, "state", "c1")[1])["annotations"]["name"] == "caf\u00e9"
    rt("delete", "--force", "c1")
    _created(rt, "c2", tmp_path)
    view = rt.root / "c2" / "state.view"
    good = view.read_bytes()
    for bad in (good.replace(b"\x02", b""), good + b"\x02", good.replace(b"\n1 /", b"\n3 /", 1)):
        view.write_bytes(bad)
        assert _call(lone, rt.root, "state", "c2")[0] == 127
    rt("delete", "--force", "c2")
