"""`fn exec` (as root) against a hostile handler: what the C-built jail
(pycontain.fn.oneshot.describe) leaves it, first from the engine, then from
the launcher's cached description (test_fn_exec_start.MODES)."""
import os
import signal
import subprocess

import pytest
from conftest import PYCONTAIN
from helpers import wait_for
from test_fn_exec_start import MODES, run
from test_launcher_jail import cache, call, describe, engine_name, leftovers, setup  # noqa: F401

from pycontain import native as n
from pycontain.fn.jail import SANDBOX_UID_BASE, bytecode
from pycontain.fn.oneshot.describe import encode

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

PROBE = """import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def prctl(option, value):
    ctypes.set_errno(0)
    libc.syscall(157, ctypes.c_ulong(option), ctypes.c_ulong(value), 0, 0, 0)
    return ctypes.get_errno()
def handler(event, context):
    root = [line.split()[5] for line in open("/proc/self/mountinfo") if line.split()[4] == "/"]
    return {"root": root, "fds": sorted(os.listdir("/proc/self/fd")),
            "clear": prctl(1, 0), "term": prctl(1, 15), "high": prctl(1 | 1 << 32, 0),
            "kill": prctl(1, 9), "dumpable": prctl(3, 0)}
"""

# clears its death signal (if it can), says who it is, then outlives any timeout
ORPHAN = """import ctypes, os, sys, time
def handler(event, context):
    ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)
    sys.stderr.write(f"uid {os.getuid()}\\n")
    sys.stderr.flush()
    time.sleep(600)
"""


@pytest.mark.parametrize("mode", MODES[:2])
def test_the_jail_keeps_its_restrictions(pc, tmp_path, mode):
    code, seen = run(pc, tmp_path, PROBE, mode)
    assert code == 0, seen
    [root] = seen["root"]
    assert {"ro", "nodev"} <= set(root.split(",")), root  # the overlay's nodev survives ro
    assert seen["fds"] == ["0", "1", "2", "3", "4"]  # 4: listdir's own
    eperm = os.strerror(1)
    assert {k: os.strerror(seen[k]) for k in ("clear", "term", "high")} == dict.fromkeys(
        ("clear", "term", "high"), eperm)
    assert (seen["kill"], seen["dumpable"]) == (0, 0)


def _jail_of(uid_line: str) -> int:
    """The host pid of the jail whose handler's uid is in uid_line (fn.jail: base + pid)."""
    return int(uid_line.split()[1]) - SANDBOX_UID_BASE


def _alive_as(pid: int, uid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.split()[1:2] == [str(uid)] for line in f if line.startswith("Uid:"))
    except OSError:
        return False


def test_a_killed_launcher_takes_the_jail_that_cleared_its_death_signal(pc, tmp_path):
    path = tmp_path / "handler.py"
    path.write_text(ORPHAN)
    path.chmod(0o644)
    for _ in MODES[:2]:  # the engine's jail, then the launcher's (cached meanwhile)
        launcher = subprocess.Popen([PYCONTAIN, "fn", "exec",
                                     str(path), "--timeout", "900"], env=pc.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        pid = uid = None
        try:
            line = launcher.stderr.readline().decode()
            while line and not line.startswith("uid "):
                line = launcher.stderr.readline().decode()
            assert line.startswith("uid "), "the handler never ran"
            pid, uid = _jail_of(line), int(line.split()[1])
            assert _alive_as(pid, uid)
            launcher.send_signal(signal.SIGKILL)
            launcher.wait(timeout=30)
            wait_for(lambda: not _alive_as(pid, uid), 30, "the jail to die with its launcher")
        finally:
            if pid and _alive_as(pid, uid):
                os.kill(pid, signal.SIGKILL)
            launcher.kill()
            launcher.wait()
            launcher.stderr.close()



def test_a_bind_source_with_a_symlink_on_its_path_is_refused(setup, tmp_path):
    """The engine binds real paths; a parent of one swapped for a symlink
    since (by whoever owns it: the code's owner) must not redirect the bind
    of a cached description: the launcher leaves the call to the engine."""
    real, swapped = tmp_path / "real", tmp_path / "swapped"
    (real / "app").mkdir(parents=True)
    swapped.symlink_to(real)
    name = engine_name(setup)
    cache(setup, name, describe(setup, name, [("b", str(swapped / "app"), "/mnt", 0)]))
    assert call(setup) == (0, f"engine {name}\n", "")
    assert leftovers(setup) == []
    cache(setup, name, describe(setup, name, [("b", str(real / "app"), "/mnt", 0)]))
    assert call(setup)[:2] == (0, '{"echo": {"n": 1}}\n')  # the real path: bound


@pytest.mark.parametrize("last", ["990", "x"])
def test_every_group_of_a_description_is_checked(last):
    """An op G's 11th group as much as its first (the executor reads them all as numbers)."""
    data = encode([("U", n.CLONE_NEWNS), ("G", *["990"] * 10, last), ("E", "true", 1, "true")])
    assert n.jail_check(data) == (last != "x")


def test_a_single_file_handler_is_never_compiled_through_a_symlink(tmp_path):
    """Root compiles a single-file handler into a pyc the jail can read: a
    parent of its real path swapped for a symlink (by the code's owner, after
    the engine resolved it) must not make root compile what that points to."""
    secret, code = tmp_path / "root-only", tmp_path / "code"
    secret.mkdir(mode=0o700)
    code.mkdir()
    (secret / "h.py").write_text("PASSWORD = 'pc-secret-1'\n")
    (code / "h.py").write_text("def handler(event, context):\n    return 1\n")
    pyc = tmp_path / "h.pyc"
    assert bytecode(str(code / "h.py"), str(pyc), by_hash=True) == str(pyc)
    assert b"pc-secret" not in pyc.read_bytes()
    code.rename(tmp_path / "was-code")
    code.symlink_to(secret)  # the engine resolved code/h.py before this
    with pytest.raises(OSError):
        bytecode(str(code / "h.py"), str(pyc), by_hash=True)
    assert b"pc-secret" not in pyc.read_bytes()


def test_a_jail_whose_starter_died_during_its_set_up_runs_nothing(tmp_path):
    """The set-up's set*id clears the death signal until the op W arms it
    again: a starter gone meanwhile (no reader on the error pipe) must not
    leave a jail that runs its call unwatched."""
    marker = tmp_path / "ran"
    data = encode([("U", n.CLONE_NEWNS), ("W", 1, signal.SIGKILL),
                   ("E", "/bin/sh", 3, "/bin/sh", "-c", f"touch {marker}", "PATH=/usr/bin:/bin")])
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    os.close(err_r)  # the starter's end, gone
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = n.jail_spawn(data, r, w, w, r, err_w)
        _, status = os.waitpid(pid, 0)
    finally:
        for fd in (r, w, err_w):
            os.close(fd)
    assert os.waitstatus_to_exitcode(status) != 0 and not marker.exists()
