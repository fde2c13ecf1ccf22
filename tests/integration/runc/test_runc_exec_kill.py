"""`exec` and `kill` as runc 1.1.5 does them: exec runs what create saved
(never the bundle as it is now), fails with status 255 and leaves no process
behind; kill reaches a created container's init and, with --all, whatever is
left in a stopped container's cgroup."""
import json
import os
import subprocess

import pytest

from helpers import wait_for
from pycontain.runc.state import Container
from .bundle import one_error, state

STATUS_LINES = "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status"
SECCOMP = {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}]}


def _started(rt, cid, args=("sleep", "1000"), **changes):
    bundle = rt.bundle(list(args), **changes)
    rt("create", "--bundle", bundle, cid)
    rt("start", cid)
    return bundle


def _pids(rt, cid) -> list:
    return sorted(json.loads(rt("ps", "--format", "json", cid).stdout))


def test_exec_runs_the_process_saved_at_create_not_the_bundle_now(rt, tmp_path):
    bundle = rt.bundle(["sleep", "1000"])
    config = json.loads((bundle / "config.json").read_text())
    config["linux"]["seccomp"] = SECCOMP
    (bundle / "config.json").write_text(json.dumps(config))
    rt("create", "--bundle", bundle, "fx-saved")
    rt("start", "fx-saved")
    first = rt("exec", "fx-saved", "sh", "-c", STATUS_LINES).stdout
    assert "NoNewPrivs:\t1" in first and "Seccomp:\t2" in first
    config["process"]["capabilities"] = {k: ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]
                                         for k in ("bounding", "effective", "permitted")}
    config["process"]["noNewPrivileges"] = False
    del config["linux"]["seccomp"]
    (bundle / "config.json").write_text(json.dumps(config))
    assert rt("exec", "fx-saved", "sh", "-c", STATUS_LINES).stdout == first  # edited
    (bundle / "config.json").unlink()
    assert rt("exec", "fx-saved", "sh", "-c", STATUS_LINES).stdout == first  # removed
    process = {"args": ["sh", "-c", STATUS_LINES], "cwd": "/",
               "env": ["PATH=/bin"], "noNewPrivileges": True}
    (tmp_path / "process.json").write_text(json.dumps(process))
    out = rt("exec", "--process", tmp_path / "process.json", "fx-saved").stdout
    assert "Seccomp:\t2" in out  # the container's seccomp, saved at create
    rt("delete", "--force", "fx-saved")


def test_kill_all_reaches_what_is_left_in_a_stopped_containers_cgroup(rt):
    """No private pid namespace: the init's death leaves its children running
    (containerd's shim then calls kill --all)."""
    bundle = rt.bundle(["sh", "-c", "sleep 1000 & exec sleep 999"])
    config = json.loads((bundle / "config.json").read_text())
    config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"]
                                     if ns["type"] != "pid"]
    (bundle / "config.json").write_text(json.dumps(config))
    rt("create", "--bundle", bundle, "fx-all")
    rt("start", "fx-all")
    init = state(rt.root, "fx-all")["pid"]
    wait_for(lambda: len(_pids(rt, "fx-all")) == 2, what="the init's child")
    os.kill(init, 9)
    wait_for(lambda: state(rt.root, "fx-all")["status"] == "stopped", what="stopped")
    assert len(_pids(rt, "fx-all")) == 1  # the child, still running
    proc = rt("kill", "--all", "fx-all", "KILL", check=False)
    assert (proc.returncode, proc.stderr) == (0, "")
    wait_for(lambda: _pids(rt, "fx-all") == [], what="the cgroup emptied")
    rt("delete", "fx-all")


def test_delete_leaves_alone_a_process_not_the_containers(rt):
    """With its own pid namespace, the init's death ends every process of the
    container: delete kills nothing else found in its cgroup (runc's rule), and
    removes the cgroup once that process has left it."""
    _started(rt, "fx-own")
    dirs = Container.load(str(rt.root), "fx-own").data["cgroup"]["dirs"]
    other = subprocess.Popen(["sleep", "1.5"])
    try:
        for path in dirs.values():
            with open(os.path.join(path, "cgroup.procs"), "w") as procs:
                procs.write(str(other.pid))
        rt("delete", "--force", "fx-own")
        assert other.wait(timeout=10) == 0  # not SIGKILLed: it ran to its end
    finally:
        other.kill()
        other.wait()
    assert not (rt.root / "fx-own").exists()
    assert not any(os.path.isdir(path) for path in dirs.values())


def test_an_exec_whose_pid_file_fails_is_killed(rt, tmp_path):
    _started(rt, "fx-pidf")
    init = state(rt.root, "fx-pidf")["pid"]
    proc = rt("exec", "--detach", "--pid-file", tmp_path / "nodir" / "pid", "fx-pidf",
              "sleep", "999", check=False)
    assert one_error(proc, 255) == \
        f"exec failed: cannot write pid file {tmp_path}/nodir/pid: No such file or directory"
    assert _pids(rt, "fx-pidf") == [init]  # killed and reaped before exec returned
    rt("delete", "--force", "fx-pidf")


@pytest.mark.parametrize("sig", ["TERM", "INT", "HUP"])
def test_kill_reaches_a_created_containers_init(rt, sig):
    bundle = rt.bundle(["sleep", "1000"])
    rt("create", "--bundle", bundle, "fx-term")
    rt("kill", "fx-term", sig)
    wait_for(lambda: state(rt.root, "fx-term")["status"] == "stopped", timeout=5,
             what=f"the created init to die of {sig}")
    rt("delete", "fx-term")


def test_the_container_process_starts_with_default_signal_dispositions(rt):
    _started(rt, "fx-disp")
    pid = state(rt.root, "fx-disp")["pid"]
    status = dict(line.split(":\t") for line in open(f"/proc/{pid}/status").read().splitlines()
                  if line.startswith(("SigIgn", "SigCgt")))
    assert status == {"SigIgn": "0000000000000000", "SigCgt": "0000000000000000"}
    rt("delete", "--force", "fx-disp")


def _holds(cap_number: int) -> bool:
    with open("/proc/self/status") as f:
        bounding = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    return bool(bounding >> cap_number & 1)


def test_exec_failures_exit_255_and_caps_the_runtime_lacks_are_refused(rt, tmp_path):
    if _holds(24):  # CAP_SYS_RESOURCE: not in this host's bounding set
        pytest.skip("the runtime holds CAP_SYS_RESOURCE here")
    _started(rt, "fx-caps")
    proc = rt("exec", "--cap", "CAP_SYS_RESOURCE", "fx-caps", "true", check=False)
    assert one_error(proc, 255).startswith("exec failed: unable to apply caps: CAP_SYS_RESOURCE")
    process = {"args": ["true"], "cwd": "/",
               "capabilities": {"bounding": ["CAP_SYS_RESOURCE"]}}
    (tmp_path / "process.json").write_text(json.dumps(process))
    proc = rt("exec", "--process", tmp_path / "process.json", "fx-caps", check=False)
    assert one_error(proc, 255).startswith("exec failed: unable to apply caps: CAP_SYS_RESOURCE")
    (tmp_path / "process.json").write_text(json.dumps({"args": "true"}))
    proc = rt("exec", "--process", tmp_path / "process.json", "fx-caps", check=False)
    assert one_error(proc, 255) == \
        "exec failed: process file: args must be an array, not a string"
    missing = rt("exec", "fx-caps", "nosuchcmd", check=False)
    assert one_error(missing, 255) == \
        'exec failed: exec: "nosuchcmd": executable file not found in $PATH'
    assert one_error(rt("exec", "fx-none", "true", check=False), 255) == \
        'exec failed: container "fx-none" does not exist'
    assert _pids(rt, "fx-caps") == [state(rt.root, "fx-caps")["pid"]]
    rt("delete", "--force", "fx-caps")
