"""`state` and `kill` without Python (csrc/runc_fast.c): the launcher alone
prints a live container's state and signals its live init; every other case
reaches the Python path, with the same output and exit status."""
import json
import os

from helpers import wait_for
from .bundle import RUNC, state
from .fastcalls import assert_missing_alike, call, created, lone_launcher, named


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
    lone = lone_launcher(tmp_path)
    pid = _running(rt, "c1")
    assert call(lone, rt.root, "kill", "c1") == (0, "", "")  # TERM, as runc
    _noted(pid, "TERM")
    for signal in ("USR1", "sigusr1", "10"):
        os.unlink(f"/proc/{pid}/root/dev/shm/sig")
        assert call(lone, rt.root, "kill", "c1", signal) == (0, "", "")
        _noted(pid, "USR1")
    assert call(lone, rt.root, "kill", "c1", "KILL") == (0, "", "")
    wait_for(lambda: state(rt.root, "c1")["status"] == "stopped", what="stop")
    rt("delete", "c1")


def test_fast_and_python_kill_answer_alike(rt, tmp_path):
    for cid in ("fast", "slow"):
        _running(rt, cid)
    for args in (["USR1"], ["SIGUSR1"], ["10"], ["CONT"], ["BOGUS"], ["0"], ["65"], [""],
                 ["99999999999999999999"], ["Kill\u00e9"]):
        fast = call(RUNC, rt.root, "kill", "fast", *args)
        assert fast == named(call(RUNC, rt.root, "kill", "slow", *args, fast=False), "fast")
    assert call(RUNC, rt.root, "kill", "fast", "BOGUS")[2].endswith("invalid signal: BOGUS\n")
    for cid in ("fast", "slow"):
        rt("kill", cid, "KILL")
        wait_for(lambda: state(rt.root, cid)["status"] == "stopped", what="stop")
    stopped = call(RUNC, rt.root, "kill", "fast", "KILL")
    assert stopped == named(call(RUNC, rt.root, "kill", "slow", "KILL", fast=False), "fast")
    assert stopped[0] == 1 and "container not running" in stopped[2]
    assert_missing_alike(rt.root, "kill")
    for cid in ("fast", "slow"):
        rt("delete", cid)


def test_kill_all_and_a_stopped_init_go_to_python(rt, tmp_path):
    lone = lone_launcher(tmp_path)
    _running(rt, "c1")
    assert call(lone, rt.root, "kill", "--all", "c1", "KILL")[0] == 127
    assert call(lone, rt.root, "kill", "c1", "BOGUS")[0] == 127
    assert state(rt.root, "c1")["status"] == "running"
    rt("kill", "c1", "KILL")
    wait_for(lambda: state(rt.root, "c1")["status"] == "stopped", what="stop")
    assert call(lone, rt.root, "kill", "c1", "KILL")[0] == 127  # the error is Python's
    rt("delete", "c1")


def test_state_of_a_live_container_needs_no_python(rt, tmp_path):
    lone = lone_launcher(tmp_path)
    pid = created(rt, "c1", tmp_path)
    code, out, err = call(lone, rt.root, "state", "c1")
    assert (code, err) == (0, "") and json.loads(out)["status"] == "created"
    assert json.loads(out)["pid"] == pid
    rt("start", "c1")
    assert json.loads(call(lone, rt.root, "state", "c1")[1])["status"] == "running"
    rt("pause", "c1")
    assert json.loads(call(lone, rt.root, "state", "c1")[1])["status"] == "paused"
    rt("resume", "c1")
    rt("kill", "c1", "KILL")
    wait_for(lambda: call(lone, rt.root, "state", "c1")[0] == 127, what="stopped: Python's")
    rt("delete", "c1")


def test_fast_and_python_state_answer_alike(rt, tmp_path):
    """Byte for byte: the same container's state both ways, in every status."""
    annotations = {"a": "quote \" backslash \\ tab \t", "b": "x" * 300}
    bundle = rt.bundle(["sh", "-c", "sleep 1000"], annotations=annotations)
    rt("create", "--bundle", bundle, "c1")

    def alike(status):
        fast = call(RUNC, rt.root, "state", "c1")
        assert fast == call(RUNC, rt.root, "state", "c1", fast=False)
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
    missing = call(RUNC, rt.root, "state", "c1")
    assert missing == call(RUNC, rt.root, "state", "c1", fast=False)
    assert missing[0] == 1 and 'container "c1" does not exist' in missing[2]


def test_a_state_python_would_print_otherwise_stays_in_python(rt, tmp_path):
    lone = lone_launcher(tmp_path)
    bundle = rt.bundle(["sh", "-c", "sleep 1000"], annotations={"name": "caf\u00e9"})
    rt("create", "--bundle", bundle, "c1")  # not ASCII: no view
    assert not (rt.root / "c1" / "state.view").exists()
    assert call(lone, rt.root, "state", "c1")[0] == 127
    assert json.loads(call(RUNC, rt.root, "state", "c1")[1])["annotations"]["name"] == "caf\u00e9"
    rt("delete", "--force", "c1")
    created(rt, "c2", tmp_path)
    view = rt.root / "c2" / "state.view"
    good = view.read_bytes()
    for bad in (good.replace(b"\x02", b""), good + b"\x02", good.replace(b"\n1 /", b"\n3 /", 1)):
        view.write_bytes(bad)
        assert call(lone, rt.root, "state", "c2")[0] == 127
    rt("delete", "--force", "c2")
