"""`fn exec` from a cached jail description (pycontain.fn.oneshot.description_cache):
while the files the last call of the same invocation was made from are
unchanged (its stamps), the launcher builds the jail from the description
the engine compiled then and runs the call itself (csrc/call.c), with no
engine: used only while it fits, the same jail as any other, gone with the
command, and its outcome the engine's, to the byte.

To see which jail a call ran in, some tests rewrite the hostname in a cached
description: a call that answers with that hostname ran in the jail built
from it, and one that answers localhost was compiled anew."""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PYCONTAIN, _container_pids
from helpers import Reader, wait_for
from test_fn_exec_start import FAILURES, INTERPRETER, run

from pycontain.fn.oneshot.describe import MAGIC, sections

REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
HOSTNAME = "import socket\ndef handler(event, context):\n    return [socket.gethostname(), event]\n"
# what the jail looks like from inside: the interpreter, the mounts, the process
JAIL = INTERPRETER.replace('''            "signals":''', '''\
            "mounts": [" ".join(line.split()[4:6] + line.split(" - ")[1].split()[:1])
                       for line in open("/proc/self/mountinfo")],
            "status": [[own(int(u)) for u in line.split()[1:]] if line.startswith("Uid:")
                       else line for line in open("/proc/self/status")
                       if line.split(":")[0] in ("Uid", "Gid", "Groups", "CapInh", "CapPrm",
                                                 "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                                                 "Seccomp", "Seccomp_filters")],
            "limits": open("/proc/self/limits").read(), "umask": os.umask(0),
            "hostname": os.uname().nodename, "pid": os.getpid(),
            "processes": sorted(p for p in os.listdir("/proc") if p.isdigit()),
            "signals":''')


def plans(pc) -> dict:
    """The store's cached descriptions (the store is the whole test session's):
    {path: inode}, which one written anew changes (written atomically), one
    used does not."""
    directory = pc.root / "cache" / "plans"
    return {p: p.stat().st_ino for p in directory.iterdir()} if directory.exists() else {}


def recording(pc, action) -> Path:
    """Run action(); the one description it wrote."""
    before = plans(pc)
    result = action()
    [plan] = [p for p, inode in plans(pc).items() if before.get(p) != inode]
    return plan, result


def rename_host(plan: Path, hostname: bytes = b"planned00") -> None:
    """Make the jail built from plan call itself hostname (9 bytes, as localhost)."""
    data = plan.read_bytes()
    ops = sections(data)[1]
    old, new = b"\x09\x00\x00\x00localhost\x00", b"\x09\x00\x00\x00" + hostname + b"\x00"
    assert ops.count(old) == 1
    tmp = plan.with_suffix(".tmp")
    tmp.write_bytes(data[:len(data) - len(ops)] + ops.replace(old, new))
    tmp.chmod(0o600)
    tmp.rename(plan)


def call(pc, path, event="{}", *args, **kwargs):
    result = pc("fn", "exec", str(path), "--event", event, *args, **kwargs)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def handler(tmp_path):
    path = tmp_path / "handler.py"
    path.write_text(HOSTNAME)
    path.chmod(0o644)
    return path


def test_a_repeated_call_runs_in_the_jail_built_from_its_plan(pc, handler):
    plan, result = recording(pc, lambda: call(pc, handler, '{"n": 1}'))
    assert result == ["localhost", {"n": 1}]
    assert plan.read_bytes().startswith(MAGIC) and plan.stat().st_mode & 0o777 == 0o600
    rename_host(plan)
    before = plans(pc)
    # any event: the description is the invocation's but for --event's value
    assert call(pc, handler, '{"n": 2}') == ["planned00", {"n": 2}]
    assert call(pc, handler, "-", input='{"n": 3}') == ["planned00", {"n": 3}]
    assert plans(pc) == before  # used as it was


def test_an_edited_handler_is_compiled_anew(pc, handler):
    rename_host(recording(pc, lambda: call(pc, handler))[0])
    handler.write_text(HOSTNAME.replace("event]", "event, 'edited']"))
    plan, result = recording(pc, lambda: call(pc, handler))
    assert result == ["localhost", {}, "edited"]  # a stamp changed: the engine's jail
    rename_host(plan)
    assert call(pc, handler) == ["planned00", {}, "edited"]  # cached again


@pytest.mark.parametrize("change", ["retarget", "flags"])
def test_a_plan_that_no_longer_fits_is_not_used(pc, handler, tmp_path, change):
    """Through a symlink retargeted to other code, the same invocation is
    another call: that jail is killed and the engine makes the right one."""
    link = tmp_path / "link.py"
    link.symlink_to(handler)
    rename_host(recording(pc, lambda: call(pc, link))[0])
    other = tmp_path / "other.py"
    other.write_text(HOSTNAME.replace("event]", "'other']"))
    other.chmod(0o644)
    if change == "retarget":
        link.unlink()
        link.symlink_to(other)
        assert call(pc, link) == ["localhost", "other"]
    else:  # another invocation: another plan
        assert call(pc, link, "{}", "--memory", "256m") == ["localhost", {}]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "group-writable", "not-root",
                                    "another's", "short"])
def test_a_damaged_or_foreign_plan_is_never_used(pc, handler, tmp_path, damage):
    plan = recording(pc, lambda: call(pc, handler))[0]
    rename_host(plan)
    data = plan.read_bytes()
    if damage == "another's":  # another invocation's plan under this one's name
        other = tmp_path / "other.py"
        other.write_text(HOSTNAME.replace("event]", "'other']"))
        other.chmod(0o644)
        theirs = recording(pc, lambda: call(pc, other))[0]
        rename_host(theirs)
        plan.write_bytes(theirs.read_bytes())
    elif damage == "short":  # its count of ops points past its end
        plan.write_bytes(MAGIC + bytes(4) + b"\xff\xff\xff\x7f")
    elif damage == "truncated":
        plan.write_bytes(data[:len(data) - 7])
    elif damage == "garbage":
        plan.write_bytes(data[:len(data) // 2] + os.urandom(len(data) - len(data) // 2))
    elif damage == "group-writable":
        plan.chmod(0o620)
    else:
        os.chown(plan, 65534, 65534)
    assert call(pc, handler) == ["localhost", {}]


def test_a_plan_made_by_other_pycontain_code_is_not_used(pc, handler):
    """pycontain's own files are part of what a plan follows from: after an
    upgrade (here: one of its modules touched) the jail is built anew."""
    rename_host(recording(pc, lambda: call(pc, handler))[0])
    import pycontain.namespaces
    module = Path(pycontain.namespaces.__file__)
    times = module.stat()
    try:
        os.utime(module, ns=(times.st_atime_ns, times.st_mtime_ns + 1))
        assert call(pc, handler) == ["localhost", {}]
    finally:
        os.utime(module, ns=(times.st_atime_ns, times.st_mtime_ns))


def test_a_plan_is_its_invocations_exactly(pc, tmp_path):
    """The plan's name is a hash of the invocation without --event's value,
    as the launcher reads it; the plan holds the invocation itself. Here the
    launcher takes the code for --event's value (it follows a literal
    --event, which is --handler's value): same name, another invocation."""
    for name in ("a", "b"):
        (tmp_path / f"{name}.py").write_text(HOSTNAME)
        (tmp_path / f"{name}.py").chmod(0o644)
        result = pc("fn", "exec", "--handler", "--event", str(tmp_path / f"{name}.py"))
        assert result.returncode == 1 and f"module '{name}'" in result.stdout, result.stdout


def test_masked_paths_are_masked_where_the_jail_is_built(pc, handler):
    """Which masked paths exist is decided when the jail is built, not when
    it was compiled (a module loaded since may add one)."""
    from pycontain.oci.defaults import MASKED_PATHS, READONLY_PATHS
    plan = recording(pc, lambda: call(pc, handler))[0]
    ops = sections(plan.read_bytes())[1]
    for code, paths in ((b"Z", MASKED_PATHS), (b"z", READONLY_PATHS)):
        for path in paths:
            raw = path.encode()
            assert code + b"\x01\x00" + len(raw).to_bytes(4, "little") + raw + b"\0" in ops, path


def test_the_cached_jail_is_the_same_jail(pc, tmp_path):
    """Its mounts, user, capabilities, seccomp, limits, hostname, descriptors,
    signals and interpreter are those of the jail the engine started."""
    plan, first = recording(pc, lambda: run(pc, tmp_path, JAIL))
    cached = run(pc, tmp_path, JAIL)
    rename_host(plan)
    renamed = run(pc, tmp_path, JAIL)
    assert renamed[1]["hostname"] == "planned00"  # it was the cached description's
    results = [first[1], cached[1], dict(renamed[1], hostname="localhost")]
    assert all(r == results[0] for r in results), results
    assert results[0]["pid"] == 1 and results[0]["processes"] == ["1"]


def test_a_killed_launcher_takes_the_cached_jail_with_it(pc, tmp_path):
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text("import socket, sys, time\ndef handler(event, context):\n"
                       "    print(socket.gethostname(), file=sys.stderr, flush=True)\n"
                       "    time.sleep(event)\n")
    sleeper.chmod(0o644)
    rename_host(recording(pc, lambda: call(pc, sleeper, "0", "--timeout", "90"))[0])
    engine = subprocess.Popen([PYCONTAIN, "fn", "exec", str(sleeper), "--event", "60",
                               "--timeout", "90"], env=pc.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        Reader(engine.stderr).expect("planned00")  # the handler runs, in the cached jail
        os.kill(engine.pid, signal.SIGKILL)
    finally:
        engine.kill()
        engine.wait()
    wait_for(lambda: not _container_pids(str(pc.root)), what="the jail to die with its engine")


def test_a_timed_out_planned_call_is_killed_as_any_other(pc, tmp_path):
    path = tmp_path / "spin.py"
    path.write_text("def handler(e, c):\n    while True:\n        pass\n")
    path.chmod(0o644)
    def timed_out():
        started = time.monotonic()
        result = pc("fn", "exec", str(path), "--timeout", "1")
        assert result.returncode == 124, result.stderr
        assert json.loads(result.stdout)["errorType"] == "Sandbox.Timedout"
        assert time.monotonic() - started < 5
    before = plans(pc)
    timed_out()
    assert len(plans(pc)) == len(before) + 1
    timed_out()  # in the cached jail


def test_system_gc_empties_the_cache(pc, handler):
    call(pc, handler)
    assert plans(pc)
    pc.out("system", "gc")
    assert plans(pc) == {}
    assert call(pc, handler) == ["localhost", {}]


def unplanned_and_planned(pc, path, *args, **kwargs) -> list:
    """Run `fn exec path ARGS` twice: the engine compiles the jail, then the
    launcher runs the call (the description is left as it was: its stamps held).
    Each (exit code, stdout, stderr), request ids and durations blotted out."""
    before = plans(pc)
    outcomes = [pc("fn", "exec", str(path), *args, **kwargs)]
    recorded = plans(pc)
    assert len(recorded) == len(before) + 1
    outcomes.append(pc("fn", "exec", str(path), *args, **kwargs))
    assert plans(pc) == recorded
    blot = lambda text: re.sub(r"(Duration|Memory Used): [0-9.]+", r"\1: N",  # noqa: E731
                               REQUEST_ID.sub("RID", text))
    return [(r.returncode, blot(r.stdout), blot(r.stderr)) for r in outcomes]


@pytest.mark.parametrize("body, error_type, status", FAILURES)
def test_the_launcher_ends_a_call_as_the_engine_does(pc, tmp_path, body, error_type, status):
    path = tmp_path / "handler.py"
    path.write_text("import sys as system\ndef handler(event, context):\n"
                    "    print('a log line', file=system.stderr)\n" + body)
    path.chmod(0o644)
    engine, launcher = unplanned_and_planned(pc, path, "--timeout", "1" if status == 124 else "30")
    assert engine == launcher
    code, out, err = launcher
    assert (code, json.loads(out)["errorType"]) == (status, error_type)
    assert re.fullmatch(r"START RequestId: RID Version: \$LATEST\na log line\n"
                        r"END RequestId: RID\nREPORT RequestId: RID\tDuration: N ms\t"
                        r"Billed Duration: N ms\tMemory Size: 128 MB\tMax Memory Used: N MB\t"
                        r"Limits: rlimit\t\n", err), err


def test_the_launcher_reads_the_event_as_the_engine_does(pc, handler, tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    engine, launcher = unplanned_and_planned(pc, handler, "--event", f"@{event}")
    assert engine == launcher and json.loads(launcher[1]) == ["localhost", {"from": "file"}]
    event.unlink()
    refused = pc("fn", "exec", str(handler), "--event", f"@{event}")
    assert (refused.returncode, refused.stdout, refused.stderr) == (
        125, "", f"pycontain: cannot read event file {event}: No such file or directory\n")
    too_large = json.dumps("x" * (6 * 1024 * 1024))
    for _ in range(2):  # stdin: once the engine, once the launcher
        refused = pc("fn", "exec", str(handler), "--event", "-", input=too_large)
        assert refused.returncode == 2 and json.loads(refused.stdout) == {
            "errorMessage": "Request must be smaller than 6291456 bytes for the InvokeFunction "
                            "operation", "errorType": "RequestTooLargeException",
            "requestId": "", "stackTrace": []}


def test_an_interrupted_call_ends_with_130_and_leaves_nothing(pc, tmp_path):
    """Also while the handler keeps logging (the launcher is then busy reading)."""
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text("import sys, time\ndef handler(event, context):\n"
                       "    print('asleep', file=sys.stderr, flush=True)\n"
                       "    end = time.time() + event\n    while time.time() < end:\n"
                       "        print('.' * 100, file=sys.stderr, flush=True)\n")
    sleeper.chmod(0o644)
    call(pc, sleeper, "0", "--timeout", "90")
    for _ in range(2):  # the engine's way once the stamps are stale, then the launcher's
        command = subprocess.Popen([PYCONTAIN, "fn", "exec", str(sleeper), "--event", "60",
                                    "--timeout", "90"], env=pc.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        try:
            Reader(command.stderr).expect("asleep")
            command.send_signal(signal.SIGINT)
            assert command.wait(10) == 130
        finally:
            command.kill()
            command.wait()
        wait_for(lambda: not _container_pids(str(pc.root)), what="the jail to be gone")
        sleeper.touch()
