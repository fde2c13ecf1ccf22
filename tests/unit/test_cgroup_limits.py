"""cgroup limits without a kernel: flag parsing, the files each limit writes
(v2 and v1), host detection and the refusal of limits a host cannot enforce."""
import os

import pytest

from pycontain.errors import PycontainError
from pycontain.oci.cgroups import group, hierarchy, limits, ocispec
from pycontain.engine.spec import RunOptions


def res(**flags) -> dict:
    return ocispec.resources(RunOptions(**flags))


@pytest.mark.parametrize("text, expected", [
    ("32m", 32 << 20), ("1g", 1 << 30), ("1.5G", 3 << 29), ("64MiB", 64 << 20),
    ("512k", 512 << 10), ("1024", 1024), ("100b", 100), ("-1", -1)])
def test_parse_bytes(text, expected):
    assert ocispec.parse_bytes("--memory", text) == expected


@pytest.mark.parametrize("flags, message", [
    ({"memory": "12x"}, "invalid size"), ({"memory": "inf"}, "invalid size"),
    ({"memory": "1m"}, "minimum memory"),
    ({"memory_swap": "1g"}, "needs --memory"),
    ({"memory": "64m", "memory_swap": "32m"}, "at least --memory"),
    ({"cpus": "abc"}, "invalid --cpus"), ({"cpu_shares": "1"}, "between 2 and 262144"),
    ({"cpuset_cpus": "3-1"}, "invalid --cpuset-cpus"), ({"pids_limit": "ten"}, "integer")])
def test_bad_flags(flags, message):
    with pytest.raises(PycontainError, match=message):
        res(**flags)


def test_no_flags_no_resources():
    assert res() == {}


def test_v2_files():
    r = res(memory="32m", memory_reservation="16m", cpus="0.5", cpu_shares="1024",
            cpuset_cpus="0", pids_limit="20")
    assert limits.v2_files(r, swap_supported=True) == [
        ("memory", "memory.max", 32 << 20), ("memory", "memory.swap.max", 32 << 20),
        ("memory", "memory.low", 16 << 20), ("cpu", "cpu.max", "50000 100000"),
        ("cpu", "cpu.weight", 39), ("cpuset", "cpuset.cpus", "0"), ("pids", "pids.max", 20)]
    unlimited_swap = res(memory="32m", memory_swap="-1", pids_limit="-1")
    assert limits.v2_files(unlimited_swap, swap_supported=True) == [
        ("memory", "memory.max", 32 << 20), ("memory", "memory.swap.max", "max"),
        ("pids", "pids.max", "max")]


def test_v1_files_and_memsw_order():
    r = res(memory="32m", cpus="1.5", cpu_shares="512")
    assert limits.v1_files(r, swap_supported=True) == [
        ("memory", "memory.limit_in_bytes", 32 << 20),
        ("memory", "memory.memsw.limit_in_bytes", 64 << 20),
        ("cpu", "cpu.cfs_period_us", 100000), ("cpu", "cpu.cfs_quota_us", 150000),
        ("cpu", "cpu.shares", 512)]
    raised = limits.v1_files(res(memory="1g"), swap_supported=True, current_memsw=64 << 20)
    assert [name for _, name, _ in raised] == ["memory.memsw.limit_in_bytes",
                                               "memory.limit_in_bytes"]
    assert limits.v1_files(res(memory="32m"), swap_supported=False) == [
        ("memory", "memory.limit_in_bytes", 32 << 20)]


def test_shares_to_weight():
    assert limits.shares_to_weight(2) == 1
    assert limits.shares_to_weight(262144) == 10000


def make_tree(root, dirs, v2_controllers=None):
    for d in dirs:
        os.makedirs(root / d)
        (root / d / "cgroup.procs").write_text("")
    if v2_controllers is not None:
        (root / "cgroup.controllers").write_text(v2_controllers)
        (root / "cgroup.subtree_control").write_text(v2_controllers)


def test_detect_v1_hybrid(tmp_path):
    make_tree(tmp_path, ["memory", "cpu,cpuacct", "pids", "systemd", "unified"])
    os.symlink("cpu,cpuacct", tmp_path / "cpu")
    host = hierarchy.detect(str(tmp_path))
    assert host.version == 1
    assert sorted(host.mounts) == ["cpu,cpuacct", "memory", "pids"]
    assert host.mount_for("cpuacct") == str(tmp_path / "cpu,cpuacct")


def test_detect_v2_and_nothing(tmp_path):
    make_tree(tmp_path, [], v2_controllers="cpu memory pids")
    host = hierarchy.detect(str(tmp_path))
    assert host.version == 2 and host.controllers == {"cpu", "memory", "pids"}
    assert hierarchy.detect(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("v2", [True, False])
def test_missing_controller_is_refused(tmp_path, v2):
    if v2:
        make_tree(tmp_path, [], v2_controllers="memory pids")
    else:
        make_tree(tmp_path, ["memory", "pids"])
    ctr_group = group.group_for(hierarchy.detect(str(tmp_path)), "0" * 64)
    ctr_group.check(res(memory="32m", pids_limit="5"))
    with pytest.raises(PycontainError, match="cannot enforce --cpus: the cpu cgroup controller"):
        ctr_group.check(res(cpus="0.5"))


def test_ulimits():
    assert ocispec.rlimits(["nofile=1024:2048", "core=-1"]) == [
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048},
        {"type": "RLIMIT_CORE", "soft": -1, "hard": -1}]
    for bad in ("nofile", "bogus=1", "nofile=2:1", "nofile=x"):
        with pytest.raises(PycontainError, match="--ulimit"):
            ocispec.rlimits([bad])


def test_default_device_rules_as_v1_lines():
    from pycontain.oci.cgroups import devices
    from pycontain.oci.defaults import default_device_rules, device_rule
    lines = devices.v1_lines(default_device_rules() + [device_rule(True, "b", 7, None, "r")])
    assert lines[0] == ("devices.deny", "a rwm")
    assert ("devices.allow", "c 1:3 rwm") in lines and ("devices.allow", "c *:* m") in lines
    assert ("devices.allow", "c 136:* rwm") in lines and lines[-1] == ("devices.allow", "b 7:* r")
    assert len(devices.program(default_device_rules())) % 8 == 0


def test_a_parent_removed_as_its_controllers_are_enabled_is_made_again(tmp_path):
    """Another engine may rmdir the shared parent (its last container gone)
    between our mkdir and our cgroup.subtree_control write: files.write's
    ENOENT is retried as mkdir's is (a v2 VM run hit it with 16 at once)."""
    from pycontain.oci.cgroups import files
    parent, tries = tmp_path / "parent", []

    def make_parent():
        tries.append(1)
        if len(tries) == 1:  # the race: our file is gone when we open it
            files.write(str(tmp_path / "gone" / "cgroup.subtree_control"), "+cpu")
        parent.mkdir(exist_ok=True)
    group._make_in_parent(make_parent, lambda: (parent / "child").mkdir())
    assert len(tries) == 2 and (parent / "child").is_dir()
    (tmp_path / "file").touch()  # any other refusal is not retried
    tries.clear()
    with pytest.raises(PycontainError, match="cannot set cgroup.subtree_control to x: Not a"):
        group._make_in_parent(lambda: tries.append(1) or files.write(
            str(tmp_path / "file" / "cgroup.subtree_control"), "x"), lambda: None)
    assert len(tries) == 1
