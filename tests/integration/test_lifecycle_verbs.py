"""docker's lifecycle verbs: create, start [-a] [-i], wait, restart, pause,
unpause, rename, top, attach and events; and (issue 17, item 7) a container
whose foreground `run` is killed is never shown "Up" with no one watching it."""
import json
import os
import signal
import subprocess
import time

from helpers import IDLE, alive, one_error_line, ps_rows, reap, wait_for


def row(pc, name):
    return next((r for r in ps_rows(pc, "-a") if r["Name"] == name), None)


def state(pc, name):
    return json.loads(pc.out("inspect", name))[0]["State"]


def upper_file(pc, name, path):
    upper = json.loads(pc.out("inspect", name))[0]["GraphDriver"]["Data"]["UpperDir"]
    try:
        with open(os.path.join(upper, path)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def test_create_then_start_attached_gives_output_and_exit_code(pc):
    cid = pc.out("create", "--name", "c1", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    try:
        assert len(cid.strip()) == 64
        assert row(pc, "c1")["State"] == "created"
        assert "Created" in pc.out("ps", "-a")
        assert pc.out("system", "gc") == ""  # a created container waits for its start
        result = pc("start", "-a", "c1")
        assert result.returncode == 3, result.stderr
        assert "out" in result.stdout and "err" in result.stdout + result.stderr
        assert pc.out("wait", "c1") == "3\n"
        assert row(pc, "c1")["State"] == "exited"
        assert pc.out("start", "c1") == "c1\n"  # once more, detached
        assert pc.out("wait", "c1") == "3\n"
        assert pc.out("logs", "c1").count("out") == 2
    finally:
        pc("rm", "-f", "c1")


def test_start_interactive_feeds_stdin_until_its_end(pc):
    pc.out("create", "-i", "--name", "cat", "busybox", "cat")
    try:
        result = pc("start", "-ai", "cat", input="line one\nline two\n", timeout=30)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "line one\nline two\n"
    finally:
        pc("rm", "-f", "cat")


def test_failed_start_keeps_the_created_container(pc):
    pc.out("create", "--name", "bad", "busybox", "/no/such/binary")
    try:
        result = pc("start", "bad")
        assert result.returncode == 127, result.stderr
        assert row(pc, "bad") is not None
    finally:
        pc("rm", "-f", "bad")


def test_wait_blocks_until_the_exit(pc):
    pc.out("run", "-d", "--name", "w", "busybox", "sh", "-c", "sleep 1; exit 5")
    try:
        started = time.monotonic()
        assert pc.out("wait", "w") == "5\n"
        assert time.monotonic() - started > 0.5
    finally:
        pc("rm", "-f", "w")


def test_wait_for_an_rm_container_gets_its_code(pc):
    pc.out("run", "-d", "--rm", "--name", "wrm", "busybox", "sh", "-c", "sleep 1; exit 6")
    assert pc.out("wait", "wrm") == "6\n"


def test_pause_freezes_and_unpause_thaws(pc):
    pc.out("run", "-d", "--name", "tick", "busybox", "sh", "-c",
           "i=0; while :; do i=$((i+1)); echo $i > /n; sleep 0.05; done")
    try:
        wait_for(lambda: upper_file(pc, "tick", "n"), what="the counter")
        assert pc.out("pause", "tick") == "tick\n"
        assert row(pc, "tick")["State"] == "paused"
        assert "(Paused)" in pc.out("ps")
        st = state(pc, "tick")
        assert st["Paused"] is True and st["Running"] is True
        frozen = upper_file(pc, "tick", "n")
        time.sleep(0.5)
        assert upper_file(pc, "tick", "n") == frozen
        error = one_error_line(pc("exec", "tick", "true"))
        assert "paused" in error
        assert "already paused" in one_error_line(pc("pause", "tick"))
        assert pc.out("unpause", "tick") == "tick\n"
        wait_for(lambda: upper_file(pc, "tick", "n") != frozen, what="the counter to move")
        assert row(pc, "tick")["State"] == "running"
        assert "not paused" in one_error_line(pc("unpause", "tick"))
        pc.out("pause", "tick")
        pc.out("stop", "-t", "1", "tick")  # a paused container stops too
        assert row(pc, "tick")["State"] == "exited"
    finally:
        pc("rm", "-f", "tick")


def test_restart_keeps_the_writable_layer_and_gives_a_new_process(pc):
    pc.out("run", "-d", "--name", "rs", "busybox", "sh", "-c", "date +%s%N >> /starts; " + IDLE)
    try:
        wait_for(lambda: upper_file(pc, "rs", "starts"), what="the first start")
        first = state(pc, "rs")["Pid"]
        assert pc.out("restart", "-t", "1", "rs") == "rs\n"
        wait_for(lambda: len((upper_file(pc, "rs", "starts") or "").split()) == 2,
                 what="the second start")
        st = state(pc, "rs")
        assert st["Running"] is True and st["Pid"] != first and alive(st["Pid"])
        assert not alive(first)
    finally:
        pc("rm", "-f", "rs")


def test_rename(pc):
    pc.out("create", "--name", "old", "busybox", "true")
    pc.out("create", "--name", "taken", "busybox", "true")
    try:
        assert pc("rename", "old", "new").returncode == 0
        assert row(pc, "new") is not None and row(pc, "old") is None
        assert "no such container" in one_error_line(pc("inspect", "old"))
        assert "already in use" in one_error_line(pc("rename", "new", "taken"))
        assert "invalid container name" in one_error_line(pc("rename", "new", "a/b"))
        assert row(pc, "new") is not None
    finally:
        pc("rm", "-f", "new", "taken", "old")


def test_top_lists_the_containers_processes(pc):
    pc.out("run", "-d", "--name", "t", "busybox", "sh", "-c", "sleep 1000 & exec sleep 999")
    try:
        wait_for(lambda: "sleep 1000" in pc.out("top", "t"), what="both sleeps")
        lines = pc.out("top", "t").splitlines()
        assert lines[0].split()[:3] == ["UID", "PID", "PPID"]
        commands = [ln for ln in lines[1:]]
        assert any("sleep 999" in ln for ln in commands)
        assert not any("pycontain" in ln for ln in commands)  # only the container's
        pid_only = pc.out("top", "t", "-o", "pid,comm").splitlines()
        assert pid_only[0].split() == ["PID", "COMMAND"] and len(pid_only) == 3
    finally:
        pc("rm", "-f", "t")
    assert "no such container" in one_error_line(pc("top", "t"))


def test_attach_relays_output_and_input_and_returns_the_exit_code(pc):
    pc.out("run", "-d", "-i", "--name", "att", "busybox", "sh", "-c",
           'while read l; do echo "got $l"; [ "$l" = quit ] && exit 7; done')
    proc = pc.popen("attach", "att", stdin=subprocess.PIPE)
    try:
        proc.stdin.write("one\n")
        proc.stdin.flush()
        time.sleep(0.3)
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 7, err
        assert out == "got one\ngot quit\n"
        assert "You cannot attach to a stopped container" in one_error_line(
            pc("attach", "att"), 1)
    finally:
        reap(proc)
        pc("rm", "-f", "att")


def test_events_show_create_start_die_and_oom(pc):
    since = f"{time.time() - 1:.3f}"
    pc("run", "--name", "ev", "busybox", "sh", "-c", "exit 2")
    pc("run", "--name", "evhog", "-m", "32m", "busybox", "sh", "-c", "tail /dev/zero",
       timeout=60)
    try:
        until = f"{time.time() + 0.5:.3f}"
        lines = pc.out("events", "--since", since, "--until", until, "--format", "json",
                       timeout=20).splitlines()
        records = [json.loads(ln) for ln in lines]
        ev = [(r["Action"], r["Actor"]["Attributes"].get("exitCode"))
              for r in records if r["Actor"]["Attributes"]["name"] == "ev"]
        assert ev == [("create", None), ("start", None), ("die", "2")]
        hog = [r["Action"] for r in records if r["Actor"]["Attributes"]["name"] == "evhog"]
        assert hog == ["create", "start", "oom", "die"]
        text = pc.out("events", "--since", since, "--until", until, "--filter",
                      "container=ev", timeout=20)
        assert " container die " in text and "exitCode=2" in text and "evhog" not in text
        assert pc.out("events", "--until", since, "--since", "0", "--filter",
                      "container=ev", timeout=20) == ""
        assert "invalid time" in one_error_line(pc("events", "--since", "yesterday"))
    finally:
        pc("rm", "-f", "ev", "evhog")


def test_events_follow_new_events(pc):
    proc = pc.popen("events", "--format", "json", "--filter", "event=start")
    try:
        time.sleep(0.5)
        pc.out("run", "--rm", "--name", "followed", "busybox", "true")
        line = proc.stdout.readline()
        assert json.loads(line)["Actor"]["Attributes"]["name"] == "followed"
    finally:
        reap(proc)


def _killed_run(pc, *flags):
    proc = pc.popen("run", *flags, "busybox", "sleep", "1000")
    try:
        wait_for(lambda: (r := row(pc, flags[-1])) and r["State"] == "running",
                 what="the container to run")
        pid = state(pc, flags[-1])["Pid"]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return pid
    finally:
        reap(proc)


def test_a_killed_foreground_run_leaves_no_container_up(pc):
    pid = _killed_run(pc, "--name", "fg")
    try:
        wait_for(lambda: not alive(pid), what="the container to die with its monitor")
        assert "Up" not in pc.out("ps", "-a")
        assert pc.out("ps", "-q") == ""
        r = row(pc, "fg")
        assert (r["State"], r["ExitCode"]) == ("exited", 137)
        assert "monitor died" in state(pc, "fg")["Error"]
        assert pc.out("wait", "fg") == "137\n"
        assert pc("rm", "fg").returncode == 0  # removable without -f: it is not running
    finally:
        pc("rm", "-f", "fg")


def test_a_killed_foreground_run_rm_is_removed_once_seen(pc):
    pid = _killed_run(pc, "--rm", "--name", "fgrm")
    wait_for(lambda: not alive(pid), what="the container to die with its monitor")
    assert row(pc, "fgrm") is None  # ps settled it: gone, with its cgroup (see pc)


def test_a_detached_container_whose_monitor_is_killed_is_recorded_exited(pc):
    pc.out("run", "-d", "--name", "mon", "busybox", "sh", "-c", IDLE)
    try:
        cid = json.loads(pc.out("inspect", "mon"))[0]["Id"]
        st = json.loads((pc.runroot / cid / "state.json").read_text())
        os.kill(st["monitor_pid"], signal.SIGKILL)
        wait_for(lambda: not alive(st["pid"]), what="the container to die with its monitor")
        r = row(pc, "mon")
        assert (r["State"], r["ExitCode"]) == ("exited", 137)
        assert pc.out("start", "mon") == "mon\n"  # and it can run again
        assert row(pc, "mon")["State"] == "running"
    finally:
        pc("rm", "-f", "mon")


def test_attach_to_a_terminal_and_detach_with_ctrl_p_ctrl_q(pc):
    from conftest import PYCONTAIN
    from helpers import Reader
    pc.out("run", "-dit", "--name", "term", "busybox", "sh")
    master, slave = os.openpty()
    proc = subprocess.Popen([PYCONTAIN, "attach", "term"], stdin=slave, stdout=slave,
                            stderr=slave, env=pc.env, start_new_session=True)
    os.close(slave)
    try:
        out = Reader(master)
        time.sleep(0.3)
        os.write(master, b"echo hi-$((1+2))\r")
        out.expect(r"hi-3")
        os.write(master, b"\x10\x11")  # ctrl-p ctrl-q: detach, the container runs on
        assert proc.wait(timeout=10) == 0
        assert row(pc, "term")["State"] == "running"
    finally:
        os.close(master)
        reap(proc)
        pc("rm", "-f", "term")


def test_create_start_restart_with_a_published_port(npc):
    from test_net_bridge import HTTPD
    from test_net_ports import wget
    npc.out("create", "--name", "web", "-p", "8080:80", "busybox", "sh", "-c", HTTPD.format("web"))
    try:
        assert npc.out("start", "web") == "web\n"
        assert wget(npc, "http://127.0.0.1:8080/index.html") == "hello-from-web\n"
        assert npc.out("restart", "-t", "0", "web") == "web\n"
        assert wget(npc, "http://127.0.0.1:8080/index.html") == "hello-from-web\n"
        npc.out("stop", "-t", "0", "web")
        assert npc.out("start", "web") == "web\n"  # the port is free again after the stop
        assert wget(npc, "http://127.0.0.1:8080/index.html") == "hello-from-web\n"
    finally:
        npc("rm", "-f", "web")
