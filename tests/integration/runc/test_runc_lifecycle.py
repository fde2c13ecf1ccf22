"""pycontain-runc as conmon and containerd's shim drive it: create leaves the
init blocked before exec, start lets it run, the caller reaps it."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from helpers import wait_for
from .bundle import RUNC, state


def test_create_blocks_until_start_and_the_caller_reaps(rt, tmp_path):
    bundle = rt.bundle(["sh", "-c", "echo ran > /dev/shm/x; cat /dev/shm/x; exit 7"])
    # a caller like conmon: a child subreaper that runs create and start, then
    # waitpid()s the container's init itself
    script = textwrap.dedent(f"""
        import os, prctl, subprocess, sys
        prctl.set_child_subreaper(1)
        out = open({str(tmp_path / 'out')!r}, 'wb')
        run = lambda *a: subprocess.run([{RUNC!r}, '--root', {str(rt.root)!r}, *a],
                                        stdout=out, check=True)
        run('create', '--bundle', {str(bundle)!r}, '--pid-file', {str(tmp_path / 'pid')!r}, 'c1')
        pid = int(open({str(tmp_path / 'pid')!r}).read())
        st = os.stat('/proc/%d' % pid)  # our child now: create's process is gone
        ppid = int(open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[1])
        print('parent', ppid == os.getpid(), flush=True)
        run('start', 'c1')
        _, status = os.waitpid(pid, 0)
        print('status', os.waitstatus_to_exitcode(status), flush=True)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["parent True", "status 7"]
    assert (tmp_path / "out").read_text() == "ran\n"  # the init had create's stdout
    assert state(rt.root, "c1")["status"] == "stopped"
    rt("delete", "c1")


def test_state_follows_the_lifecycle(rt, tmp_path):
    bundle = rt.bundle(["sh", "-c", "touch /dev/shm/started; sleep 1000"])
    rt("create", "--bundle", bundle, "--pid-file", tmp_path / "pid", "c1")
    st = state(rt.root, "c1")
    assert st["status"] == "created"
    assert st["pid"] == int((tmp_path / "pid").read_text())
    assert st["bundle"] == str(bundle) and st["id"] == "c1" and st["ociVersion"]
    assert not os.path.exists(f"/proc/{st['pid']}/root/dev/shm/started")  # args not applied
    assert rt("start", "c1", check=False).returncode == 0
    wait_for(lambda: os.path.exists(f"/proc/{st['pid']}/root/dev/shm/started"), what="start")
    assert state(rt.root, "c1")["status"] == "running"
    assert "cannot start an already running container" in rt("start", "c1", check=False).stderr
    refused = rt("delete", "c1", check=False)
    assert refused.returncode == 1 and "not stopped: running" in refused.stderr
    rt("pause", "c1")
    assert state(rt.root, "c1")["status"] == "paused"
    rt("resume", "c1")
    assert json.loads(rt("ps", "--format", "json", "c1").stdout)[0] == st["pid"]
    rt("kill", "c1", "KILL")
    wait_for(lambda: state(rt.root, "c1")["status"] == "stopped", what="stopped")
    killed = rt("kill", "c1", check=False)
    assert killed.returncode == 1 and "container not running" in killed.stderr
    rt("delete", "c1")
    gone = rt("state", "c1", check=False)
    assert gone.returncode == 1 and 'container "c1" does not exist' in gone.stderr


def test_a_forced_delete_of_no_container_succeeds(rt):
    """As runc: containerd's shim deletes with --force after a plain delete."""
    plain = rt("delete", "nosuch", check=False)
    assert plain.returncode == 1 and 'container "nosuch" does not exist' in plain.stderr
    forced = rt("delete", "--force", "nosuch", check=False)
    assert (forced.returncode, forced.stderr) == (0, "")


def test_a_missing_executable_fails_at_create_and_leaves_nothing(rt, tmp_path):
    bundle = rt.bundle(["nosuchcmd"])
    log = tmp_path / "log.json"
    proc = subprocess.run([RUNC, "--root", rt.root, "--log", log, "--log-format", "json",
                           "create", "--bundle", bundle, "c1"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in proc.stderr
    entry = json.loads(log.read_text())  # the whole file is one object, as podman reads it
    assert entry["level"] == "error" and "executable file not found" in entry["msg"]
    assert rt("state", "c1", check=False).returncode == 1


def test_terminal_goes_to_the_console_socket(rt, tmp_path):
    config_changes = {}
    bundle = rt.bundle(["sh", "-c", "tty; stty size"], **config_changes)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = True
    config["process"]["consoleSize"] = {"height": 33, "width": 111}
    (bundle / "config.json").write_text(json.dumps(config))
    path = str(tmp_path / "console.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        no_socket = rt("create", "--bundle", bundle, "c0", check=False)
        assert no_socket.returncode == 1 and "console socket" in no_socket.stderr
        rt("create", "--bundle", bundle, "--console-socket", path, "c1")
        conn, _ = server.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 64, 1)
    master = fds[0]
    try:
        rt("start", "c1")
        out = b""
        deadline = time.monotonic() + 10
        while b"111" not in out and time.monotonic() < deadline:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
    finally:
        os.close(master)
    assert b"/dev/pts/0" in out and b"33 111" in out
    wait_for(lambda: state(rt.root, "c1")["status"] == "stopped", what="exit")
    rt("delete", "c1")


def test_exec_runs_beside_the_init_and_its_failure_leaves_the_container(rt, tmp_path):
    bundle = rt.bundle(["sleep", "1000"])
    rt("create", "--bundle", bundle, "c1")
    rt("start", "c1")
    done = rt("exec", "c1", "sh", "-c", "echo $HOSTNAME-$(hostname); exit 5", check=False)
    assert done.returncode == 5 and done.stdout.strip().endswith("-runc")
    failed = rt("exec", "c1", "nosuchcmd", check=False)
    assert failed.returncode == 255 and "executable file not found" in failed.stderr  # as runc
    process = dict(json.loads((bundle / "config.json").read_text())["process"],
                   args=["sleep", "1000"])
    (tmp_path / "process.json").write_text(json.dumps(process))
    rt("exec", "--process", tmp_path / "process.json", "--detach", "--pid-file",
       tmp_path / "exec.pid", "c1")
    exec_pid = int((tmp_path / "exec.pid").read_text())
    assert sorted(json.loads(rt("ps", "--format", "json", "c1").stdout)) == \
        sorted([state(rt.root, "c1")["pid"], exec_pid])
    assert state(rt.root, "c1")["status"] == "running"
    rt("kill", "--all", "c1", "KILL")
    wait_for(lambda: state(rt.root, "c1")["status"] == "stopped", what="stopped")
    wait_for(lambda: not os.path.exists(f"/proc/{exec_pid}/root/bin"), what="exec gone")
    rt("delete", "c1")


def test_hooks_run_in_order_with_the_state_on_stdin(rt, tmp_path):
    log = tmp_path / "hooks.log"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\necho \"$1 $(cat | tr -d '\\n ')\" >> {log}\n")
    hook.chmod(0o755)
    hooks = {stage: [{"path": str(hook), "args": ["hook", stage]}]
             for stage in ("prestart", "createRuntime", "createContainer", "poststart",
                           "poststop")}
    # startContainer resolves in the container: a script of the bundle's root
    hooks["startContainer"] = [{"path": "/start-hook", "args": ["start-hook"]}]
    bundle = rt.bundle(["sh", "-c", "cat /started"], hooks=hooks,
                       root={"path": "rootfs", "readonly": False})
    (bundle / "rootfs" / "start-hook").write_text("#!/bin/sh\ncat > /started\n")
    (bundle / "rootfs" / "start-hook").chmod(0o755)
    rt("create", "--bundle", bundle, "c1")
    assert not (bundle / "rootfs" / "started").exists()  # not before start
    rt("start", "c1")
    wait_for(lambda: state(rt.root, "c1")["status"] == "stopped", what="exit")
    rt("delete", "c1")
    lines = log.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["prestart", "createRuntime", "createContainer",
                                                   "poststart", "poststop"]
    first = json.loads(lines[0].split(" ", 1)[1])
    assert first["id"] == "c1" and first["status"] == "created" and first["pid"] > 0
    inside = json.loads(lines[2].split(" ", 1)[1])  # createContainer: the init's host pid
    assert inside["pid"] == first["pid"] and inside["bundle"] == str(bundle)
    started = json.loads((bundle / "rootfs" / "started").read_text())
    assert started["pid"] == first["pid"] and started["status"] == "running"
    assert json.loads(lines[-1].split(" ", 1)[1])["status"] == "stopped"


def test_a_failing_prestart_hook_fails_create_and_leaves_nothing(rt):
    bundle = rt.bundle(["true"], hooks={"prestart": [{"path": "/bin/false"}]})
    proc = rt("create", "--bundle", bundle, "c1", check=False)
    assert proc.returncode == 1 and "prestart hook" in proc.stderr
    assert rt("state", "c1", check=False).returncode == 1


def test_namespaces_joined_by_path_and_resources_updated(rt):
    first = rt.bundle(["sleep", "1000"])
    rt("create", "--bundle", first, "sandbox")
    rt("start", "sandbox")
    sandbox = state(rt.root, "sandbox")["pid"]
    second = rt.bundle(["sleep", "1000"])
    config = json.loads((second / "config.json").read_text())
    config["linux"]["namespaces"] = [
        {"type": t, "path": f"/proc/{sandbox}/ns/{n}"} if t in ("network", "ipc") else {"type": t}
        for t, n in (("pid", "pid"), ("network", "net"), ("ipc", "ipc"), ("uts", "uts"),
                     ("mount", "mnt"))]
    (second / "config.json").write_text(json.dumps(config))
    rt("create", "--bundle", second, "app")
    rt("start", "app")
    app = state(rt.root, "app")["pid"]
    for ns in ("net", "ipc"):
        assert os.stat(f"/proc/{app}/ns/{ns}").st_ino == os.stat(f"/proc/{sandbox}/ns/{ns}").st_ino
    for ns in ("pid", "uts", "mnt"):
        assert os.stat(f"/proc/{app}/ns/{ns}").st_ino != os.stat(f"/proc/{sandbox}/ns/{ns}").st_ino
    res = json.dumps({"memory": {"limit": 64 << 20}, "pids": {"limit": 50}})
    rt("update", "--resources", "-", "app", input=res)
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    memory = next(d for d in rt.cgroups() if v2 or "/memory/" in d)
    limits = [open(os.path.join(e.path, "memory.max" if v2 else "memory.limit_in_bytes"))
              .read().strip() for e in os.scandir(memory) if e.is_dir()]
    assert str(64 << 20) in limits
    for cid in ("app", "sandbox"):
        rt("delete", "--force", cid)


def test_version_and_features():
    out = subprocess.run([RUNC, "--version"], capture_output=True, text=True).stdout
    lines = out.splitlines()
    assert lines[0].startswith("pycontain-runc version ") and lines[1].startswith("commit: ")
    assert lines[2].startswith("spec: 1.")
    features = json.loads(subprocess.run([RUNC, "features"], capture_output=True,
                                         text=True).stdout)
    assert "poststop" in features["hooks"] and "network" in features["linux"]["namespaces"]


def test_a_user_namespace_bundle_and_a_non_root_process(rt, tmp_path):
    """A bundle mapping its root to other host ids (as `runc spec --rootless` or
    a CRI user-namespaced pod asks), and a process whose user is not root: both
    reach exec (the init, no longer root on the host, still opens the exec fifo)."""
    # the mapped root must reach the bundle: not under pytest's private (0700) /tmp dir
    shared = Path(tempfile.mkdtemp(prefix="pyc-runc-userns-", dir="/tmp"))
    shared.chmod(0o755)
    private, rt.tmp = rt.tmp, shared
    try:
        bundle = rt.bundle(["sh", "-c", "id; cat /proc/self/uid_map"])
        rt.tmp = private
        config = json.loads((bundle / "config.json").read_text())
        config["linux"]["namespaces"].append({"type": "user"})
        for key in ("uidMappings", "gidMappings"):
            config["linux"][key] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        (bundle / "config.json").write_text(json.dumps(config))
        out = rt("run", "--bundle", bundle, "u1")
    finally:
        rt.tmp = private
        shutil.rmtree(shared)
    assert out.stdout.splitlines()[0] == "uid=0 gid=0"
    assert out.stdout.split()[-3:] == ["0", "200000", "65536"]
    plain = rt.bundle(["id"])
    config = json.loads((plain / "config.json").read_text())
    config["process"]["user"] = {"uid": 1000, "gid": 1000}
    (plain / "config.json").write_text(json.dumps(config))
    assert rt("run", "--bundle", plain, "u2").stdout.strip() == "uid=1000 gid=1000"
