"""Root function jails do not share a uid: per-user kernel counts (RLIMIT_NPROC
first) never cross from one call to another, for `fn exec` and `fn serve`;
and a `fn serve` killed with SIGKILL leaves no call cgroup past the next start."""
import json
import os
import threading
import pytest
from conftest import cgroup_dirs
from helpers import created_functions, wait_for
from test_fn_serve import Server, zygote_processes

from pycontain.fn.jail import SANDBOX_UID_BASE

CODE = '''
import os, threading, time
def work(event, context):
    """hold: start threads until the kernel refuses one, keep them `hold` s;
    else fork a child; either way, return the uid."""
    if event.get("hold"):
        threading.stack_size(64 * 1024)
        stop, count = threading.Event(), 0
        try:
            while count < 2000:
                threading.Thread(target=stop.wait).start()
                count += 1
        except RuntimeError:  # can't start new thread
            pass
        print("holding", count, flush=True)
        time.sleep(event["hold"])
        stop.set()
        return {"threads": count, "uid": os.getuid()}
    print("started", flush=True)
    time.sleep(event.get("sleep", 0))
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    return {"forked": os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), "uid": os.getuid()}
'''
HOLD = 6  # seconds the holder keeps its threads


def _threads_of(pids) -> int:
    most = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                most = max(most, *(int(line.split()[1]) for line in f
                                   if line.startswith("Threads:")))
        except OSError:
            continue
    return most


def _children(pid: int) -> list:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.fixture
def work(tmp_path):
    path = tmp_path / "work.py"
    path.write_text(CODE)
    path.chmod(0o644)
    return str(path)


def _exec(pc, path, event, **kwargs):
    return pc.popen("fn", "exec", path, "--handler", "work", "--memory", "2g", "--timeout", "60",
                    "--event", json.dumps(event), **kwargs)


def _wait_line(proc, word: str) -> str:
    for line in proc.stderr:
        if word in line:
            return line
    raise AssertionError(f"no {word!r} line: {proc.wait()} {proc.stdout.read()}")


def _result(proc) -> dict:
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, (stdout, stderr)
    return json.loads(stdout)


def test_fn_exec_a_call_holding_1000_threads_does_not_stop_another_forking(pc, work):
    """Under a shared uid, the holder's threads counted against every jail's
    RLIMIT_NPROC (1024): the other call's fork (or python's start) failed."""
    holder = _exec(pc, work, {"hold": HOLD})
    line = _wait_line(holder, "holding")
    assert int(line.split()[1]) >= 1000, line
    other = _result(_exec(pc, work, {}))
    assert other["forked"] == 7
    held = _result(holder)
    assert held["threads"] >= 1000 and held["uid"] != other["uid"]


def test_fn_exec_concurrent_calls_have_uids_of_their_own(pc, work):
    calls = [_exec(pc, work, {"sleep": 1}) for _ in range(2)]
    for proc in calls:
        _wait_line(proc, "started")  # both running at once
    uids = [_result(proc)["uid"] for proc in calls]
    assert uids[0] != uids[1]
    assert all(SANDBOX_UID_BASE < uid < SANDBOX_UID_BASE + (1 << 22) for uid in uids), uids


@pytest.fixture(scope="module")
def functions(engine_env, tmp_path_factory):
    yield from created_functions(engine_env, tmp_path_factory.mktemp("fnuids"), CODE,
                                 {"work-a": "app.work", "work-b": "app.work"},
                                 lambda name: ("--timeout", "60", "--memory", "2g"))


def test_fn_serve_a_call_holding_1000_threads_does_not_stop_others_forking(pc, functions):
    """Neither a call of another function nor another call of the same one."""
    srv = Server(pc)
    try:
        held = {}
        holder = threading.Thread(target=lambda: held.update(srv.result("work-a",
                                                                        {"hold": HOLD})))
        holder.start()
        root = pc.env["PYCONTAIN_ROOT"]
        wait_for(lambda: _threads_of(zygote_processes(root)) >= 1000, 20,
                 "the holder's 1000 threads")
        other = srv.result("work-b", {})
        same = srv.result("work-a", {})
        holder.join(60)
        assert other["forked"] == same["forked"] == 7
        assert held["threads"] >= 1000
        assert len({held["uid"], other["uid"]}) == 2  # the zygotes' uids: one each
    finally:
        assert srv.stop() == 0


def test_fn_serve_calls_of_two_functions_have_uids_of_their_own(pc, functions):
    srv = Server(pc)
    try:
        results = {}
        calls = [threading.Thread(target=lambda n=name: results.update(
            {n: srv.result(n, {"sleep": 1})})) for name in ("work-a", "work-b")]
        for call in calls:
            call.start()
        for call in calls:
            call.join(60)
        assert results["work-a"]["uid"] != results["work-b"]["uid"]
    finally:
        assert srv.stop() == 0


def test_a_killed_server_leaves_no_call_cgroup_past_the_next_start(pc, functions):
    first = Server(pc)
    for _ in range(3):
        first.result("work-a", {})
    in_flight = threading.Thread(target=lambda: _ignore_errors(
        lambda: first.invoke("work-b", {"sleep": 30})))
    in_flight.start()
    wait_for(lambda: first.status()["in_flight"] == 1, 20, "a call in flight")
    dead = first.proc.pid
    first.proc.kill()
    first.proc.wait(10)
    in_flight.join(30)
    def left() -> list:  # fn<pid>[.<start>]x<tag>x<n>
        return [d for d in cgroup_dirs(pc.env)
                if os.path.basename(d)[2:].partition("x")[0].partition(".")[0] == str(dead)]
    assert left()  # the call cgroups (memory, pids...) it had made
    wait_for(lambda: not zygote_processes(pc.env["PYCONTAIN_ROOT"]), 10,
             "the dead server's zygotes to end")
    second = Server(pc)
    try:
        assert left() == []
        assert second.result("work-a", {})["forked"] == 7
    finally:
        assert second.stop() == 0


def _ignore_errors(call) -> None:
    try:
        call()
    except Exception:  # noqa: BLE001 - the server was killed under it
        pass
