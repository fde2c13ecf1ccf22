"""`run`/`create` flags of issue 17, item 3, as docker has them: --stop-signal,
--stop-timeout and the image's STOPSIGNAL honoured by `stop`; --label and
--label-file over the image's labels; --pid/--ipc/--uts host and
container:NAME; healthchecks (--health-*, the image's HEALTHCHECK,
--no-healthcheck) shown in `ps` and `inspect`."""
import json
import os
import time
import uuid

import pytest

from helpers import IDLE, one_error_line, ps_rows, wait_for

# sh as PID 1 records the signal that stops it, then exits with 3
TRAP = 'trap "echo got-{sig}; exit 3" {sig}; ' + IDLE
IMAGE = "localhost/runflags-img:latest"


def inspect(pc, name):
    return json.loads(pc.out("inspect", name))[0]


def health(pc, name):
    return inspect(pc, name)["State"].get("Health")


def status_of(pc, name):
    return next(r["Status"] for r in ps_rows(pc) if r["Name"] == name)


@pytest.fixture(scope="module")
def image(engine_env, tmp_path_factory):
    """busybox with STOPSIGNAL SIGUSR2, a HEALTHCHECK and labels, by `pycontain build`."""
    from conftest import Engine
    pc = Engine(engine_env)
    context = tmp_path_factory.mktemp("runflags-image")
    (context / "Dockerfile").write_text(
        "FROM localhost/busybox\n"
        "STOPSIGNAL SIGUSR2\n"
        "LABEL from=image shared=image\n"
        "HEALTHCHECK --interval=200ms --retries=1 CMD test -f /tmp/ok\n")
    pc.out("build", "--network", "none", "-q", "-t", IMAGE, context, timeout=120)
    yield IMAGE
    pc("rmi", IMAGE)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_stop_sends_the_stop_signal(pc):
    name = unique("stopsig")
    pc.out("run", "-d", "--name", name, "--stop-signal", "SIGUSR1", "busybox", "sh", "-c",
           TRAP.format(sig="USR1"))
    try:
        assert inspect(pc, name)["Config"]["StopSignal"] == "SIGUSR1"
        pc.out("stop", name)
        assert pc.out("wait", name).strip() == "3"  # the trap ran: not killed (137)
        assert "got-USR1" in pc.out("logs", name)
    finally:
        pc("rm", "-f", name)


def test_stop_timeout_kills_after_its_seconds(pc):
    name = unique("stoptime")
    pc.out("run", "-d", "--name", name, "--stop-timeout", "1", "busybox", "sh", "-c",
           'trap "" TERM; ' + IDLE)
    try:
        assert inspect(pc, name)["Config"]["StopTimeout"] == 1
        began = time.monotonic()
        pc.out("stop", name)
        assert time.monotonic() - began < 8  # its 1 s, not the default 10 s
        assert pc.out("wait", name).strip() == "137"
    finally:
        pc("rm", "-f", name)


def test_bad_stop_flags_are_refused(pc):
    for flags in (["--stop-signal", "SIGNOPE"], ["--stop-timeout", "soon"]):
        result = pc("run", "--rm", *flags, "busybox", "true")
        assert one_error_line(result)


def test_image_stopsignal_labels_and_healthcheck(pc, image, tmp_path):
    name = unique("imgcfg")
    label_file = tmp_path / "labels"
    label_file.write_text("# a comment\nfile=1\n\nshared=file\n")
    pc.out("run", "-d", "--name", name, "--label", "cli=2", "-l", "shared=cli",
           "--label-file", label_file, image, "sh", "-c", TRAP.format(sig="USR2"))
    try:
        config = inspect(pc, name)["Config"]
        assert config["StopSignal"] == "SIGUSR2"
        assert config["Labels"] == {"from": "image", "shared": "cli", "file": "1", "cli": "2"}
        assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "test -f /tmp/ok"],
                                         "Interval": 200_000_000, "Retries": 1}
        wait_for(lambda: (health(pc, name) or {}).get("Status") == "unhealthy",
                 what="the image's healthcheck failing")
        pc.out("exec", name, "touch", "/tmp/ok")
        wait_for(lambda: health(pc, name)["Status"] == "healthy", what="healthy")
        pc.out("stop", name)
        assert pc.out("wait", name).strip() == "3"
    finally:
        pc("rm", "-f", name)


def test_no_healthcheck_disables_the_images(pc, image):
    name = unique("nocheck")
    pc.out("run", "-d", "--name", name, "--no-healthcheck", image, "sh", "-c", IDLE)
    try:
        info = inspect(pc, name)
        assert info["Config"]["Healthcheck"] == {"Test": ["NONE"]}
        assert "Health" not in info["State"]
        assert status_of(pc, name).startswith("Up") and "health" not in status_of(pc, name)
    finally:
        pc("rm", "-f", name)
    result = pc("run", "--rm", "--no-healthcheck", "--health-cmd", "true", "busybox", "true")
    assert "conflicts" in one_error_line(result)


def _checkers(name):
    """Processes whose command line names the container (its monitor, its checker)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if name.encode() in f.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def test_healthcheck_goes_healthy_and_unhealthy(pc):
    name = unique("health")
    cmd = "if [ -f /tmp/slow ]; then sleep 30; fi; echo probe-out; test -f /tmp/ok"
    pc.out("run", "-d", "--name", name, "--health-cmd", cmd, "--health-interval", "200ms",
           "--health-timeout", "2s", "--health-retries", "2", "busybox", "sh", "-c", IDLE)
    try:
        assert health(pc, name)["Status"] == "starting"  # no verdict before the first check
        assert "(health: starting)" in status_of(pc, name)
        found = wait_for(lambda: (h := health(pc, name))["Status"] == "unhealthy" and h,
                         what="unhealthy")
        assert found["FailingStreak"] >= 2
        assert found["Log"][-1]["ExitCode"] == 1 and found["Log"][-1]["Output"] == "probe-out\n"
        assert "(unhealthy)" in status_of(pc, name)
        assert pc("healthcheck", "run", name).returncode == 1
        pc.out("exec", name, "touch", "/tmp/ok")
        wait_for(lambda: health(pc, name)["Status"] == "healthy", what="healthy")
        assert "(healthy)" in status_of(pc, name)
        assert health(pc, name)["FailingStreak"] == 0
        assert pc("healthcheck", "run", name).returncode == 0
        pc.out("exec", name, "touch", "/tmp/slow")  # the check now outlives its timeout
        timed_out = wait_for(lambda: [r for r in health(pc, name)["Log"] if r["ExitCode"] == -1],
                             what="a timed-out check")
        assert "exceeded timeout (2s)" in timed_out[0]["Output"]
        assert len(health(pc, name)["Log"]) <= 5
    finally:
        pc("rm", "-f", name)
    wait_for(lambda: not _checkers(name), what="the checker to end with its container")


def test_failures_in_the_start_period_do_not_count(pc):
    name = unique("startper")
    pc.out("run", "-d", "--name", name, "--health-cmd", "false", "--health-interval", "100ms",
           "--health-start-period", "1h", "busybox", "sh", "-c", IDLE)
    try:
        found = wait_for(lambda: len((h := health(pc, name))["Log"]) >= 3 and h,
                         what="three checks")
        assert found["Status"] == "starting" and found["FailingStreak"] == 0
    finally:
        pc("rm", "-f", name)


def test_bad_health_flags_are_refused(pc):
    for flags in (["--health-interval", "5 parsecs"], ["--health-retries", "-1"],
                  ["--health-timeout", "10ns"]):
        result = pc("run", "--rm", "--health-cmd", "true", *flags, "busybox", "true")
        assert one_error_line(result)


READ_NS = "for k in pid ipc uts; do readlink /proc/self/ns/$k; done"


def ns_of(pc, *run_args):
    """The pid, ipc and uts namespaces a container's process is in."""
    return pc.out("run", "--rm", *run_args, "busybox", "sh", "-c", READ_NS).split()


HOST_NS = [os.readlink(f"/proc/self/ns/{k}") for k in ("pid", "ipc", "uts")]


def test_namespaces_of_the_host(pc):
    assert not set(ns_of(pc)) & set(HOST_NS)  # its own by default
    assert ns_of(pc, "--pid", "host", "--ipc", "host", "--uts", "host") == HOST_NS
    assert ns_of(pc, "--ipc", "host")[1:2] == HOST_NS[1:2]
    # --pid host: its /proc is the host's (this test's own process is in it)
    pc.out("run", "--rm", "--pid", "host", "busybox", "test", "-d", f"/proc/{os.getpid()}")
    assert pc.out("run", "--rm", "--uts", "host", "busybox", "hostname").strip() == \
        os.uname().nodename
    result = pc("run", "--rm", "--uts", "host", "--hostname", "x", "busybox", "true")
    assert "conflicting" in one_error_line(result)


def test_namespaces_of_another_container(pc):
    name = unique("nsowner")
    cid = pc.out("run", "-d", "--name", name, "--hostname", "owner", "busybox",
                 "sh", "-c", IDLE).strip()
    try:
        theirs = pc.out("exec", name, "sh", "-c", READ_NS).split()
        joined = [f"container:{name}"] * 3
        assert ns_of(pc, "--pid", joined[0], "--ipc", joined[1], "--uts", joined[2]) == theirs
        assert pc.out("run", "--rm", "--uts", joined[2], "busybox", "hostname").strip() == "owner"
        # it sees the other container's processes: its PID 1 is that one's shell
        assert "sh -c" in pc.out("run", "--rm", "--pid", joined[0], "busybox", "cat",
                                 "/proc/1/cmdline").replace("\0", " ")
        joiner = unique("nsjoiner")
        pc.out("create", "--name", joiner, "--pid", joined[0], "busybox", "true")
        try:
            assert inspect(pc, joiner)["HostConfig"]["PidMode"] == f"container:{cid}"
            pc.out("stop", "-t", "0", name)
            result = pc("start", joiner)
            assert "not running" in one_error_line(result)
            assert pc("run", "--rm", "--ipc", joined[1], "busybox", "true").returncode == 125
        finally:
            pc("rm", "-f", joiner)
    finally:
        pc("rm", "-f", name)
    result = pc("run", "--rm", "--pid", "container:no-such-ctr", "busybox", "true")
    assert "no such container" in one_error_line(result)
    assert "invalid --ipc" in one_error_line(pc("run", "--rm", "--ipc", "bogus", "busybox", "true"))


def test_a_foreground_run_with_a_healthcheck_leaves_nothing(pc):
    """The checker of an attached --rm run ends with it (the fixture checks
    that no record, state directory or process is left)."""
    result = pc("run", "--rm", "--health-cmd", "true", "--health-interval", "50ms",
                "busybox", "sh", "-c", "sleep 1; echo done")
    assert (result.returncode, result.stdout) == (0, "done\n"), result.stderr


GRACEFUL_POD = """\
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 30
  volumes: [{{name: out, hostPath: {{path: {out}}}}}]
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", 'trap "echo got-TERM > /out/signal; exit 0" TERM; {idle}']
    volumeMounts: [{{name: out, mountPath: /out}}]
"""


def test_kube_down_stops_gracefully(npc, tmp_path):
    """kube down sends the stop signal and waits (here up to the pod's 30 s
    grace period) instead of killing at once: the trap runs."""
    name = unique("graceful")
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(GRACEFUL_POD.format(name=name, out=tmp_path, idle=IDLE))
    npc.out("kube", "play", manifest, timeout=120)
    try:
        assert inspect(npc, f"{name}-main")["Config"]["StopTimeout"] == 30
    finally:
        npc.out("kube", "down", manifest, timeout=120)
    assert (tmp_path / "signal").read_text() == "got-TERM\n"
