"""What pycontain-runc refuses, as runc 1.1.5 does: a bundle without a process,
a rootfs reached through a symlink, config.json fields of the wrong type, bad
ids and paths; each one error line (and, with --log, one JSON log entry),
never a traceback, and nothing left behind."""
import json
import marshal
import os
import shutil
import subprocess

import pytest

from .bundle import RUNC, one_error, state


def _config(bundle):
    return json.loads((bundle / "config.json").read_text())


def _write(bundle, config) -> None:
    (bundle / "config.json").write_text(json.dumps(config))


def test_a_bundle_without_a_process_is_refused_at_create(rt):
    bundle = rt.bundle(["true"])
    config = _config(bundle)
    del config["process"]
    _write(bundle, config)
    try:
        proc = rt("create", "--bundle", bundle, "fx-np", check=False)
        assert one_error(proc) == "process property must not be empty"
        assert not (rt.root / "fx-np").exists()
    finally:  # what a create that accepted it saved: kill or delete would signal pid 0
        shutil.rmtree(rt.root / "fx-np", ignore_errors=True)


def test_a_state_without_a_pid_is_never_signalled_nor_joined(rt, tmp_path):
    """A state with no pid (as an older create saved for a bundle without a
    process): kill, exec and delete never signal pid 0 (the caller's process
    group) nor join it (the host's namespaces). Each call runs in a session of
    its own, so that the bug, if present, kills the call and not the tests."""
    bundle = rt.bundle(["true"])
    directory = rt.root / "fx-old"
    directory.mkdir(parents=True)
    (directory / "state").write_bytes(marshal.dumps({
        "ociVersion": "1.0.2", "bundle": str(bundle), "rootfs": str(bundle / "rootfs"),
        "created": "2024-01-01T00:00:00.000000000Z", "annotations": {}, "hooks": {},
        "no_process": True}))
    (tmp_path / "process.json").write_text(json.dumps({"args": ["/bin/true"], "cwd": "/"}))

    def call(*args):
        return subprocess.run([RUNC, "--root", str(rt.root), *map(str, args)],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              start_new_session=True, timeout=60)
    try:
        assert state(rt.root, "fx-old")["status"] == "stopped"
        assert one_error(call("kill", "fx-old", "KILL")) == "container not running"
        assert call("kill", "--all", "fx-old", "KILL").returncode == 0
        joined = call("exec", "--process", tmp_path / "process.json", "fx-old")
        assert one_error(joined, 255) == "exec failed: cannot exec in a stopped container"
        assert call("delete", "fx-old").returncode == 0
        assert not directory.exists()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_rootfs_through_a_symlink_is_refused(rt, tmp_path):
    bundle = rt.bundle(["true"])
    (bundle / "rootfs").rename(bundle / "real")
    (bundle / "rootfs").symlink_to("real")
    proc = rt("create", "--bundle", bundle, "fx-sym", check=False)
    assert one_error(proc) == "invalid rootfs: not an absolute path, or a symlink"
    config = _config(bundle)
    (tmp_path / "link").symlink_to(bundle)
    config["root"]["path"] = str(tmp_path / "link" / "real")  # a symlink above it
    _write(bundle, config)
    proc = rt("create", "--bundle", bundle, "fx-sym", check=False)
    assert one_error(proc) == "invalid rootfs: not an absolute path, or a symlink"
    assert not (rt.root / "fx-sym").exists()
    config["root"]["path"] = "real"  # the bundle itself may be reached through one
    _write(bundle, config)
    rt("create", "--bundle", tmp_path / "link", "fx-sym")
    assert state(rt.root, "fx-sym")["status"] == "created"
    rt("delete", "--force", "fx-sym")


def _nested(config):
    return json.dumps(config).replace('"hostname": "runc"',
                                      '"x": ' + "[" * 100000 + "]" * 100000 + ', "hostname": "runc"')


def _set(path, value):
    def change(config):
        *parents, last = path
        target = config
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
        return json.dumps(config)
    return change


BAD_CONFIGS = {
    "nested": (_nested, "config.json is not valid JSON (nested too deeply)"),
    "process": (_set(["process"], "x"), "config.json: process must be an object, not a string"),
    "mounts": (_set(["mounts"], [1]), "config.json: mounts[0] must be an object, not a number"),
    "linux": (_set(["linux"], []), "config.json: linux must be an object, not an array"),
    "root": (_set(["root"], "rootfs"), "config.json: root must be an object, not a string"),
    "memory": (_set(["linux", "resources", "memory", "limit"], "abc"),
               "config.json: linux.resources.memory.limit must be an integer, not a string"),
    "args": (_set(["process", "args"], ["sh", 1]),
             "config.json: process.args[1] must be a string, not a number"),
    "uid": (_set(["process", "user", "uid"], -1),
            "config.json: process.user.uid must be an integer from 0 to 4294967295"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_config_of_the_wrong_shape_is_one_error_line_and_logged(rt, tmp_path, case):
    change, message = BAD_CONFIGS[case]
    bundle = rt.bundle(["true"])
    (bundle / "config.json").write_text(change(_config(bundle)))
    log = tmp_path / "log.json"
    proc = rt("--log", log, "--log-format", "json", "create", "--bundle", bundle, "fx-bad",
              check=False)
    assert one_error(proc) == message
    entry = json.loads(log.read_text())  # one object: podman reads the file so
    assert (entry["level"], entry["msg"]) == ("error", message)
    assert not (rt.root / "fx-bad").exists()


def test_bad_paths_and_ids_are_one_error_line_and_logged(rt, tmp_path):
    bundle = rt.bundle(["sleep", "1000"])
    log = tmp_path / "log.txt"
    proc = rt("--log", log, "create", "--bundle", bundle, "--pid-file", tmp_path / "nodir" / "pid",
              "fx-pid", check=False)
    assert one_error(proc) == f"cannot write pid file {tmp_path}/nodir/pid: " \
                              "No such file or directory"
    assert not (rt.root / "fx-pid").exists()
    long_id = "fx-" + "a" * 297
    proc = rt("--log", log, "create", "--bundle", bundle, long_id, check=False)
    assert one_error(proc) == f"invalid container id format: {long_id} " \
                              "(at most 255 characters)"
    regular = tmp_path / "file"
    regular.write_text("")
    proc = rt("--root", regular / "state", "--log", log, "create", "--bundle", bundle, "fx-root",
              check=False)
    assert one_error(proc) == f"cannot create the runtime root {regular}/state: Not a directory"
    assert one_error(rt("--root", regular / "state", "--log", log, "list", check=False)) == \
        f"{regular}/state: Not a directory"
    lines = log.read_text().splitlines()
    assert len(lines) == 4 and all(" level=error msg=" in line for line in lines)
