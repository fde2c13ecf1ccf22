"""Calling pycontain-runc with its C path on or off, and the launcher alone (no
Python beside it), for the tests of csrc/runc_fast.c."""
import os
import shutil
import subprocess

from .bundle import RUNC


def lone_launcher(tmp_path):
    """The launcher copied where no python3 is beside it: the Python path
    fails there (exit 127), so a success is the C path's alone."""
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(RUNC, lone / "pycontain-runc")
    return str(lone / "pycontain-runc")


def call(binary, root, *args, fast=True):
    env = dict(os.environ)
    env.pop("PYCONTAIN_RUNC_NO_FAST", None)
    if not fast:
        env["PYCONTAIN_RUNC_NO_FAST"] = "1"
    proc = subprocess.run([binary, "--root", str(root), *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, env=env, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def created(rt, cid, tmp_path):
    bundle = rt.bundle(["sh", "-c", "touch /dev/shm/started; sleep 1000"])
    rt("create", "--bundle", bundle, "--pid-file", tmp_path / f"{cid}.pid", cid)
    return int((tmp_path / f"{cid}.pid").read_text())


def named(result, cid):
    """A call's result about container "slow" as it reads about container cid."""
    code, out, err = result
    return code, out.replace("slow", cid), err.replace("slow", cid)


def assert_missing_alike(root, *command) -> None:
    """A command on a container that does not exist: the same error both ways."""
    missing = call(RUNC, root, *command, "nothere")
    assert missing == call(RUNC, root, *command, "nothere", fast=False)
    assert missing[0] == 1 and 'container "nothere" does not exist' in missing[2]
