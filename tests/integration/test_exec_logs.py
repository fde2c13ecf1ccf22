"""`exec` into running containers, and `logs` of detached ones."""
import json
import os
import signal

from helpers import IDLE, Reader, one_error_line, reap, wait_for

# main process that stops cleanly on `stop` (PID 1 ignores an untrapped TERM)
SERVE = f'trap "exit 0" TERM; echo main-ready; {IDLE}'


def state(pc, ref):
    return json.loads(pc.out("inspect", ref))[0]["State"]


def start(pc, *args, serve=SERVE):
    """A detached container whose main process is running its script; its id."""
    cid = pc.out("run", "-d", *args, "busybox", "sh", "-c", serve).strip()
    wait_for(lambda: "main-ready" in pc.out("logs", cid), what="the main process")
    return cid


def test_exec_runs_in_the_containers_namespaces(pc):
    cid = start(pc, "--hostname", "box7", serve=f"echo secret > /tmp/note; {SERVE}")
    try:
        assert pc.out("exec", cid, "hostname") == "box7\n"
        procs = pc.out("exec", cid, "ps", "-o", "pid,args").splitlines()[1:]
        first = procs[0].split(None, 1)
        assert first[0] == "1" and first[1].startswith("sh -c echo secret"), procs
        assert pc.out("exec", cid, "cat", "/tmp/note") == "secret\n"
        main_pid = state(pc, cid)["Pid"]
        ours = pc.out("exec", cid, "sh", "-c",
                      "for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done").split()
        theirs = [os.readlink(f"/proc/{main_pid}/ns/{n}") for n in ("pid", "mnt", "uts", "ipc", "net")]
        assert ours == theirs
        # and what exec writes, the main process sees
        pc.out("exec", cid, "sh", "-c", "echo from-exec > /tmp/back")
        assert pc.out("exec", cid, "cat", "/tmp/back") == "from-exec\n"
    finally:
        pc("rm", "-f", cid)


def test_exec_gets_the_container_env_plus_e(pc):
    cid = start(pc, "-e", "FOO=bar", "-e", "SHARED=run", "--hostname", "envbox")
    try:
        env = dict(line.split("=", 1) for line in pc.out(
            "exec", "-e", "EXTRA=1", "-e", "SHARED=exec", cid, "env").splitlines())
        assert env["FOO"] == "bar" and env["EXTRA"] == "1" and env["SHARED"] == "exec"
        assert env["HOSTNAME"] == "envbox" and "/bin" in env["PATH"]
        assert "PYCONTAIN_ROOT" not in env
        plain = pc.out("exec", cid, "env")
        assert "EXTRA=" not in plain and "SHARED=run" in plain
    finally:
        pc("rm", "-f", cid)


def test_exec_workdir_and_user(pc):
    cid = start(pc)
    try:
        assert pc.out("exec", "-w", "/tmp", cid, "pwd") == "/tmp\n"
        assert pc.out("exec", "-w", "/made/by/exec", cid, "pwd") == "/made/by/exec\n"
        assert pc.out("exec", cid, "pwd") == "/\n"
        assert pc.out("exec", "-u", "app", cid, "id", "-u") == "1000\n"
        assert pc.out("exec", "-u", "app", cid, "id", "-g") == "1000\n"
        assert pc.out("exec", "-u", "1234:5678", cid, "id", "-u") == "1234\n"
        assert pc.out("exec", cid, "id", "-u") == "0\n"
        denied = pc("exec", "-u", "app", cid, "touch", "/root/x")
        assert denied.returncode != 0 and "Permission denied" in denied.stderr
        one_error_line(pc("exec", "-u", "nosuchuser", cid, "true"))
    finally:
        pc("rm", "-f", cid)


def test_exec_exit_codes(pc):
    cid = start(pc)
    try:
        assert pc("exec", cid, "sh", "-c", "exit 5").returncode == 5
        assert pc("exec", cid, "true").returncode == 0
        missing = pc("exec", cid, "no-such-command")
        assert missing.returncode == 127
        assert "no-such-command" in missing.stderr
        assert pc("exec", cid, "/etc/hostname").returncode == 126
        assert pc("exec", cid, "sh", "-c", "kill -9 $$").returncode == 137
        assert state(pc, cid)["Running"] is True  # none of that hurt the container
    finally:
        pc("rm", "-f", cid)


def test_exec_into_a_stopped_container_fails(pc):
    assert pc("run", "--name", "ended", "busybox", "true").returncode == 0
    try:
        line = one_error_line(pc("exec", "ended", "echo", "hi"))
        assert "ended" in line and "not running" in line
    finally:
        pc("rm", "-f", "ended")
    cid = start(pc)
    try:
        assert pc("stop", cid).returncode == 0
        result = pc("exec", cid, "echo", "hi")
        one_error_line(result)
        assert result.stdout == ""
    finally:
        pc("rm", "-f", cid)


def test_exec_i_passes_stdin(pc):
    cid = start(pc)
    try:
        assert pc.out("exec", "-i", cid, "cat", input="line one\nline two\n") == "line one\nline two\n"
        assert pc.out("exec", "-i", cid, "sh", "-c", "read x; echo got:$x", input="abc\n") == "got:abc\n"
        data = "x" * 300000
        assert pc.out("exec", "-i", cid, "wc", "-c", input=data).strip() == str(len(data))
        # without -i stdin is not connected
        assert pc.out("exec", cid, "cat", input="ignored\n") == ""
    finally:
        pc("rm", "-f", cid)


def test_exec_processes_die_with_the_container(pc):
    cid = start(pc)
    proc = pc.popen("exec", cid, "sleep", "60")
    try:
        wait_for(lambda: "sleep 60" in pc.out("exec", cid, "ps", "-o", "args"),
                 what="the exec'd sleep to run")
        assert pc("stop", cid).returncode == 0
        code = proc.wait(timeout=10)
        assert code == 128 + signal.SIGKILL, code
    finally:
        reap(proc)
        pc("rm", "-f", cid)


def test_logs_show_stdout_and_stderr(pc):
    cid = pc.out("run", "-d", "--name", "talker", "busybox", "sh", "-c",
                 "echo to-out; echo to-err >&2; echo again").strip()
    try:
        wait_for(lambda: json.loads(pc.out("inspect", cid))[0]["State"]["Status"] == "exited",
                 what="the container to finish")
        result = pc("logs", "talker")
        assert result.returncode == 0
        assert (result.stdout, result.stderr) == ("to-out\nagain\n", "to-err\n")
        assert pc.out("logs", cid[:12]) == result.stdout
    finally:
        pc("rm", "-f", cid)


def test_logs_follow_streams_and_ends_when_the_container_exits(pc):
    cid = pc.out("run", "-d", "busybox", "sh", "-c",
                 "echo first; while [ ! -f /tmp/go ]; do sleep 0.1; done; "
                 "echo second; while [ ! -f /tmp/end ]; do sleep 0.1; done; echo third").strip()
    proc = pc.popen("logs", "-f", cid)
    out = Reader(proc.stdout)
    try:
        out.expect("first\n")
        assert proc.poll() is None  # still following
        assert b"second" not in out.data
        pc.out("exec", cid, "touch", "/tmp/go")
        out.expect("second\n")
        assert proc.poll() is None
        pc.out("exec", cid, "touch", "/tmp/end")
        assert out.drain() == b"first\nsecond\nthird\n"
        assert proc.wait(timeout=10) == 0
    finally:
        reap(proc)
        pc("rm", "-f", cid)


def test_logs_follow_of_an_exited_container_returns(pc):
    cid = pc.out("run", "-d", "busybox", "echo", "only").strip()
    try:
        wait_for(lambda: state(pc, cid)["Status"] == "exited", what="exit")
        result = pc("logs", "-f", cid, timeout=10)
        assert result.returncode == 0 and result.stdout == "only\n"
    finally:
        pc("rm", "-f", cid)


def test_logs_of_a_foreground_container_is_a_clear_error(pc):
    assert pc("run", "--name", "fore", "busybox", "echo", "hi").stdout == "hi\n"
    try:
        line = one_error_line(pc("logs", "fore"))
        assert "fore" in line
    finally:
        pc("rm", "-f", "fore")
