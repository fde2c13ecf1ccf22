"""A full disk under the store: every command that cannot write says so in
one line with 125 and leaves the store as it was (its images still listed
and runnable once there is room again), and a container whose log fills the
disk still has its exit code recorded. Each test has a tmpfs of its own
(helpers.SmallStore) holding both the store and the state, as a rootless
user's are when there is no XDG_RUNTIME_DIR."""
import json
import os
import subprocess

import pytest
from helpers import SmallStore, one_error_line, wait_for

FULL = "no space left on device"


@pytest.fixture
def small(engine_env, tmp_path):
    with SmallStore(engine_env, tmp_path) as store:
        yield store


def _still_works(small) -> None:
    """The store is as it was: its image listed, and running."""
    assert small.leftovers() == {}
    small.free()
    names = {row["Name"] for row in json.loads(small.pc.out("images", "--format", "json"))}
    assert names == {"localhost/busybox:latest"}
    assert small.pc.out("run", "--rm", "busybox", "echo", "ok") == "ok\n"
    assert small.leftovers() == {}


@pytest.mark.parametrize("mode", [["--rm"], [], ["-d"]], ids=["rm", "kept", "detached"])
def test_run_on_a_full_disk_is_one_line_and_leaves_nothing(small, mode):
    small.fill()
    result = small.pc("run", *mode, "busybox", "true")
    line = one_error_line(result)
    assert line.startswith("pycontain: ") and FULL in line and "Traceback" not in result.stderr
    assert small.pc.out("ps", "-a", "--format", "json").strip() == "[]"
    _still_works(small)


def test_import_onto_a_full_disk_is_one_line_and_leaves_nothing(small):
    """Only images.json is new for a second name of an image the store has."""
    small.fill()
    result = small.pc("import", f"oci:{small.layout}", "localhost/again:latest")
    assert FULL in one_error_line(result) and "images.json" in result.stderr
    _still_works(small)


@pytest.mark.parametrize("tty", [[], ["-t"]], ids=["pipe", "tty"])
def test_a_log_that_fills_the_disk_keeps_the_exit_code(small, tty):
    """The container's output fills the disk, then it exits 7: `ps -a` and
    inspect say 7, not '?' (the state.json rewrite needs space the log took;
    with a terminal, the monitor writing the log died of ENOSPC)."""
    cid = small.pc.out("run", "-d", *tty, "busybox", "sh", "-c",
                       "head -c 104857600 /dev/zero; exit 7").strip()
    wait_for(lambda: not small.pc.out("ps", "-q").strip(), timeout=30, what="the exit")
    assert os.statvfs(small.mount).f_bavail == 0  # the log did fill the disk
    [row] = json.loads(small.pc.out("ps", "-a", "--format", "json"))
    assert row["State"] == "exited" and row["ExitCode"] == 7, row
    assert "Exited (7)" in small.pc.out("ps", "-a")
    state = json.loads(small.pc.out("inspect", cid))
    state = state[0] if isinstance(state, list) else state
    assert state["State"]["ExitCode"] == 7, state["State"]
    small.pc.out("rm", cid)
    assert small.leftovers() == {}


def test_run_on_a_read_only_store_is_one_line(small):
    subprocess.run(["mount", "-o", "remount,ro", str(small.mount)], check=True)
    try:
        line = one_error_line(small.pc("run", "--rm", "busybox", "true"))
        assert "read-only file system" in line and str(small.mount) in line, line
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small.mount)], check=True)
    _still_works(small)
