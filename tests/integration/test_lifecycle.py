"""Container lifecycle: run -d, ps, stop, kill, rm, inspect, and how containers are named."""
import datetime
import json
import os
import re
import time

from helpers import IDLE, alive, one_error_line, ps_rows, wait_for

# A main process that says it is ready once its traps are set, then idles.
# (PID 1 of a pid namespace ignores signals it has no handler for, so tests
# must not signal it before the trap exists.)


def row_for(pc, ref):
    return next((r for r in ps_rows(pc, "-a") if ref in (r["Id"], r["Name"])), None)


def inspect(pc, ref):
    out = json.loads(pc.out("inspect", ref))
    assert isinstance(out, list) and len(out) == 1
    return out[0]


def wait_log(pc, ref, text, timeout=10.0):
    wait_for(lambda: text in pc.out("logs", ref), timeout, f"{text!r} in the logs of {ref}")


def wait_exited(pc, ref, timeout=10.0):
    """Its row once exited with the exit code recorded (its monitor writes the code
    just after the process is gone, and `ps` shows it exited from then on)."""
    return wait_for(lambda: (r := row_for(pc, ref)) and r["State"] == "exited"
                    and r["ExitCode"] is not None and r, timeout, f"{ref} to exit")


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_run_detached_prints_id_and_keeps_running_after_the_cli_exits(pc):
    started = time.monotonic()
    result = pc("run", "-d", "--name", "bg", "busybox", "sleep", "60", timeout=30)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10  # returned: nothing kept our stdout open
    assert re.fullmatch(r"[0-9a-f]{64}\n", result.stdout), result.stdout
    cid = result.stdout.strip()
    try:
        info = inspect(pc, cid)
        assert info["State"]["Running"] is True
        pid = info["State"]["Pid"]
        assert pid > 0 and alive(pid)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[:2] == [b"sleep", b"60"]
        running = ps_rows(pc)
        assert [(r["Id"], r["Name"], r["State"]) for r in running] == [(cid, "bg", "running")]
        table = pc.out("ps")
        assert cid[:12] in table and "bg" in table and "Up" in table
        assert pc.out("ps", "-q") == cid[:12] + "\n"
    finally:
        pc("rm", "-f", cid)
    assert not alive(pid)


def test_ps_lists_running_only_and_ps_a_json_fields(pc):
    assert pc("run", "--name", "done4", "busybox", "sh", "-c", "exit 4").returncode == 4
    cid = pc.out("run", "-d", "--name", "up", "busybox", "sleep", "60").strip()
    try:
        assert [r["Name"] for r in ps_rows(pc)] == ["up"]
        assert "done4" not in pc.out("ps")
        rows = {r["Name"]: r for r in ps_rows(pc, "-a")}
        assert set(rows) == {"up", "done4"}
        for row in rows.values():
            assert {"Id", "Name", "Image", "State", "ExitCode"} <= set(row)
            assert re.fullmatch(r"[0-9a-f]{64}", row["Id"])
            assert "busybox" in row["Image"]
        assert rows["up"]["Id"] == cid
        assert rows["up"]["State"] == "running" and rows["up"]["ExitCode"] is None
        assert rows["done4"]["State"] == "exited" and rows["done4"]["ExitCode"] == 4
        assert "Exited (4)" in pc.out("ps", "-a")
    finally:
        pc("rm", "-f", "up", "done4")


def test_stop_records_the_exit_code_of_a_container_that_traps_term(pc):
    cid = pc.out("run", "-d", "--name", "trapper", "busybox", "sh", "-c",
                 f'trap "echo bye; exit 7" TERM; echo ready; {IDLE}').strip()
    try:
        wait_log(pc, cid, "ready")
        started = time.monotonic()
        result = pc("stop", "trapper")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "trapper\n"
        assert time.monotonic() - started < 5  # it exited on TERM, no 10 s SIGKILL timeout
        state = inspect(pc, cid)["State"]
        assert state["Status"] == "exited" and state["Running"] is False
        assert state["ExitCode"] == 7 and state["Pid"] == 0
        assert parse_time(state["FinishedAt"]) >= parse_time(state["StartedAt"])
        assert parse_time(state["FinishedAt"]).year > 2000
        assert "bye" in pc.out("logs", cid)
        row = row_for(pc, cid)
        assert row["State"] == "exited" and row["ExitCode"] == 7
        # stopping a stopped container is not an error (as with docker)
        assert pc("stop", cid).returncode == 0
    finally:
        pc("rm", "-f", cid)


def test_stop_with_timeout_kills_a_container_that_ignores_term(pc):
    cid = pc.out("run", "-d", "busybox", "sh", "-c", f"trap '' TERM; echo ready; {IDLE}").strip()
    try:
        wait_log(pc, cid, "ready")
        started = time.monotonic()
        result = pc("stop", "-t", "1", cid[:12])
        elapsed = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert 0.9 <= elapsed <= 3.5, elapsed
        state = inspect(pc, cid)["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 137
    finally:
        pc("rm", "-f", cid)


def test_kill_delivers_a_signal_to_the_main_process(pc):
    cid = pc.out("run", "-d", "--name", "sig", "busybox", "sh", "-c",
                 f'trap "echo got-usr1" USR1; echo ready; {IDLE}').strip()
    try:
        wait_log(pc, "sig", "ready")
        result = pc("kill", "-s", "USR1", "sig")
        assert result.returncode == 0 and result.stdout == "sig\n", result.stderr
        wait_log(pc, "sig", "got-usr1")
        assert row_for(pc, cid)["State"] == "running"  # the trap handled it
        assert pc("kill", "sig").returncode == 0  # default: SIGKILL
        assert wait_exited(pc, cid)["ExitCode"] == 137
        line = one_error_line(pc("kill", "sig"))
        assert "sig" in line and "not running" in line
        one_error_line(pc("kill", "-s", "USR1", "sig"))
    finally:
        pc("rm", "-f", cid)


def test_kill_rejects_an_unknown_signal(pc):
    cid = pc.out("run", "-d", "busybox", "sleep", "60").strip()
    try:
        line = one_error_line(pc("kill", "-s", "NOPE", cid))
        assert "NOPE" in line
        assert row_for(pc, cid)["State"] == "running"
    finally:
        pc("rm", "-f", cid)


def test_rm_refuses_a_running_container_and_rm_f_removes_it(pc):
    cid = pc.out("run", "-d", "--name", "keep", "busybox", "sleep", "60").strip()
    pid = inspect(pc, cid)["State"]["Pid"]
    line = one_error_line(pc("rm", "keep"))
    assert "keep" in line
    assert row_for(pc, cid)["State"] == "running" and alive(pid)
    result = pc("rm", "-f", "keep")
    assert result.returncode == 0 and result.stdout == "keep\n", result.stderr
    assert row_for(pc, cid) is None
    assert not alive(pid)
    one_error_line(pc("inspect", cid))
    # the name is free again
    cid2 = pc.out("run", "-d", "--name", "keep", "busybox", "sleep", "60").strip()
    assert cid2 != cid
    pc("rm", "-f", "keep")


def test_rm_of_an_exited_container(pc):
    assert pc("run", "--name", "gone", "busybox", "true").returncode == 0
    cid = row_for(pc, "gone")["Id"]
    assert pc("rm", "gone").returncode == 0
    assert row_for(pc, "gone") is None
    assert cid not in pc.containers()


def test_containers_are_found_by_name_full_id_and_unique_prefix(pc):
    cid = pc.out("run", "-d", "--name", "findme", "busybox", "sleep", "60").strip()
    try:
        for ref in ("findme", cid, cid[:12], cid[:5]):
            assert inspect(pc, ref)["Id"] == cid, ref
        assert inspect(pc, cid)["Name"] == "findme"
        assert pc.out("stop", "-t", "0", cid[:8]) == cid[:8] + "\n"
        assert wait_exited(pc, "findme")["Id"] == cid
    finally:
        pc("rm", "-f", cid)


def test_unknown_and_ambiguous_ids_are_one_line_errors(pc):
    for verb in (["inspect"], ["stop"], ["kill"], ["rm"], ["rm", "-f"], ["logs"],
                 ["exec", "-i"]):
        args = verb + ["no-such-container"] + (["true"] if verb[0] == "exec" else [])
        line = one_error_line(pc(*args))
        assert "no-such-container" in line, (verb, line)
    # make containers until two ids share a first hex digit (at most 17 are needed)
    ids = []
    try:
        while True:
            pc.out("run", "busybox", "true")
            ids = [r["Id"] for r in ps_rows(pc, "-a")]
            firsts = [i[0] for i in ids]
            shared = next((c for c in firsts if firsts.count(c) > 1), None)
            if shared:
                break
            assert len(ids) <= 16
        line = one_error_line(pc("inspect", shared))
        assert "ambiguous" in line and shared in line
        one_error_line(pc("rm", "-f", shared))
        assert len(ps_rows(pc, "-a")) == len(ids)  # nothing was removed
    finally:
        if ids:
            pc("rm", "-f", *ids)


def test_inspect_describes_config_state_mounts_and_storage(pc, tmp_path):
    (tmp_path / "hostfile").write_text("from host\n")
    cid = pc.out("run", "-d", "--name", "described", "-e", "FOO=bar", "-w", "/data",
                 "-v", f"{tmp_path}:/data", "-v", f"{tmp_path}:/ro:ro", "busybox",
                 "sh", "-c", f"echo hi > /made-inside; cat hostfile; {IDLE}").strip()
    upper = None
    try:
        info = inspect(pc, "described")
        assert info["Id"] == cid and info["Name"] == "described"
        assert info["State"]["Running"] is True and info["State"]["Status"] == "running"
        pid = info["State"]["Pid"]
        assert pid > 0 and alive(pid)
        assert info["Config"]["Cmd"][:2] == ["sh", "-c"]
        assert "FOO=bar" in info["Config"]["Env"]
        assert any(e.startswith("PATH=") for e in info["Config"]["Env"])
        assert info["Config"]["WorkingDir"] == "/data"
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        assert set(mounts) == {"/data", "/ro"}
        assert mounts["/data"]["Source"] == os.path.realpath(tmp_path)
        assert mounts["/data"]["RW"] is True and mounts["/ro"]["RW"] is False
        upper = info["GraphDriver"]["Data"]["UpperDir"]
        assert os.path.isdir(upper)
        wait_for(lambda: os.path.exists(os.path.join(upper, "made-inside")), what="upper dir")
        wait_log(pc, cid, "from host")
    finally:
        pc("rm", "-f", cid)
    assert not os.path.exists(upper)
    assert (tmp_path / "hostfile").read_text() == "from host\n"  # rm leaves volumes alone


def test_run_detached_rm_removes_the_container_when_its_command_exits(pc):
    cid = pc.out("run", "-d", "--rm", "--name", "auto", "busybox", "sh", "-c",
                 "while [ ! -f /tmp/go ]; do sleep 0.1; done; echo done").strip()
    try:
        assert row_for(pc, cid)["State"] == "running"
        assert inspect(pc, "auto")["HostConfig"]["AutoRemove"] is True
        assert pc("exec", cid, "touch", "/tmp/go").returncode == 0
        wait_for(lambda: row_for(pc, cid) is None, what="the --rm container to disappear")
        wait_for(lambda: cid not in pc.containers(), what="its directory to go")
        one_error_line(pc("inspect", "auto"))
    finally:
        if row_for(pc, cid):
            pc("rm", "-f", cid)


def test_names_are_unique(pc):
    cid = pc.out("run", "-d", "--name", "solo", "busybox", "sleep", "60").strip()
    try:
        line = one_error_line(pc("run", "-d", "--name", "solo", "busybox", "true"))
        assert "solo" in line
        assert [r["Id"] for r in ps_rows(pc, "-a")] == [cid]
    finally:
        pc("rm", "-f", cid)
