"""Device access: runc's device cgroup rules (the v1 `devices` hierarchy; on
cgroup v2 an eBPF program, which tests/vm runs this file for), nodev volumes,
--device, --privileged, and the volume destinations that are refused.

The nodes made here are the host's /dev/kvm (char 10:232) and /dev/loop0
(block 7:0): opened read-only, which changes nothing even where it works.
Busybox only, so the cgroup v2 guest runs these tests as they are."""
import os
import shutil

import pytest
from helpers import IDLE, one_error_line

# make a char and a block node in DIR, then open each for reading
MAKE_AND_OPEN = ("cd {dir} && mknod c c 10 232 && mknod b b 7 0 && "
                 "for n in c b; do true < $n && echo \"$n opened\"; done; true")
REFUSED = ("Operation not permitted", "Permission denied")


def assert_none_opened(result) -> None:
    """The nodes were made (mknod is allowed, as with runc) but neither opened."""
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "opened" not in result.stdout, result.stdout
    errors = result.stderr.splitlines()
    assert len(errors) == 2 and all(any(r in e for r in REFUSED) for e in errors), result.stderr


@pytest.mark.parametrize("options", ["", ":dev", ":rw,dev"])
def test_nodes_made_in_a_volume_cannot_be_opened(pc, tmp_path, options):
    """With `dev` the volume lets nodes work as docker's do, so the cgroup alone stops them."""
    result = pc("run", "--rm", "-v", f"{tmp_path}:/data{options}", "busybox", "sh", "-c",
                MAKE_AND_OPEN.format(dir="/data"))
    assert_none_opened(result)
    assert sorted(os.listdir(tmp_path)) == ["b", "c"]


def test_nodes_made_in_the_containers_own_layer_cannot_be_opened(pc):
    assert_none_opened(pc("run", "--rm", "busybox", "sh", "-c", MAKE_AND_OPEN.format(dir="/")))


@pytest.mark.parametrize("options", ["", ":dev"])
def test_exec_has_the_containers_device_rules(pc, tmp_path, options):
    cid = pc.out("run", "-d", "-v", f"{tmp_path}:/data{options}", "busybox", "sh", "-c",
                 IDLE).strip()
    try:
        assert_none_opened(pc("exec", cid, "sh", "-c", MAKE_AND_OPEN.format(dir="/data")))
    finally:
        pc("rm", "-f", cid)


def test_default_devices_still_work(pc):
    script = ("echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom "
              "| wc -c && head -c 4 /dev/random | wc -c && true <> /dev/ptmx && echo ptmx; "
              "echo x > /dev/full || echo full")
    result = pc("run", "--rm", "busybox", "sh", "-c", script)
    assert result.stdout.split() == ["4", "4", "4", "ptmx", "full"], result.stderr
    assert "No space left on device" in result.stderr


def _host_char_device() -> str:
    """A host device that opens write-only without effect (kmsg: in the VM)."""
    return next(p for p in ("/dev/kvm", "/dev/fuse", "/dev/kmsg") if os.path.exists(p))


def test_device_flag_makes_just_that_device_usable(pc, tmp_path):
    device = _host_char_device()
    other = "1 11" if device != "/dev/kmsg" else "10 232"
    script = (f"true > {device} && echo given; true > /dev/given-too && echo renamed; "
              f"mknod /data/other c {other} && true > /data/other && echo other")
    result = pc("run", "--rm", "--device", device, "--device", f"{device}:/dev/given-too",
                "-v", f"{tmp_path}:/data:dev", "busybox", "sh", "-c", script)
    assert result.stdout.split() == ["given", "renamed"], result.stderr
    assert "Operation not permitted" in result.stderr
    read_only = pc("run", "--rm", "--device", f"{device}:/dev/x:r", "busybox", "sh", "-c",
                   ": > /dev/x")
    assert read_only.returncode != 0 and "Operation not permitted" in read_only.stderr


def test_privileged_allows_every_device(pc):
    """The control: what the rules stop works when allowed."""
    rdev = os.stat(_host_char_device()).st_rdev
    result = pc("run", "--rm", "--privileged", "busybox", "sh", "-c",
                f"mknod /dev/made c {os.major(rdev)} {os.minor(rdev)} && true > /dev/made "
                "&& echo opened")
    assert result.stdout.strip() == "opened", result.stderr


@pytest.mark.parametrize("value,words", [
    ("/etc/hostname", "not a device"), ("/dev/null:/null", "must be under /dev"),
    ("/dev/null:/dev/pts/0", "must be under /dev"), ("/dev/null:rx", "permissions 'rx'"),
    ("relative", "want HOST[:CONTAINER]"), ("/nonexistent-pycontain", "No such file"),
])
def test_bad_device_flags_are_refused(pc, value, words):
    line = one_error_line(pc("run", "--rm", "--device", value, "busybox", "true"))
    assert line.startswith("pycontain: ") and words in line and value in line, line


@pytest.mark.parametrize("destination", ["/proc", "/sys", "/dev", "/proc/self", "/proc/1/root",
                                         "/sys/fs/cgroup", "/dev/pts", "/dev/x/..", "//dev"])
def test_volumes_on_proc_sys_and_dev_are_refused(pc, tmp_path, destination):
    result = pc("run", "--rm", "-v", f"{tmp_path}:{destination}", "busybox", "true")
    line = one_error_line(result)
    assert line.startswith("pycontain: ") and "destination" in line
    assert os.listdir(tmp_path) == [] and pc.containers() == []


@pytest.mark.parametrize("link,target", [("p", "/proc"), ("s", "../sys/kernel"),
                                         ("dd", "/dev")])
def test_a_volume_steered_onto_proc_sys_or_dev_by_an_image_symlink_is_refused(
        pc, tmp_path, link, target):
    """The destination is checked where the image's symlinks lead, not as written:
    `-v /proc:/p` with an image whose /p -> /proc put the host's /proc there."""
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    for name in ("proc", "sys", "dev", "etc", "tmp"):
        (root / name).mkdir()
    shutil.copy("/bin/busybox", root / "bin")
    os.symlink("busybox", root / "bin" / "sh")
    os.symlink(target, root / link)
    image = f"localhost/symlinked-{link}:latest"
    pc.out("import", root, image)
    try:
        source = tmp_path / "volume"
        source.mkdir()
        result = pc("run", "--rm", "-v", f"{'/proc' if link == 'p' else source}:/{link}",
                    image, "sh", "-c", "echo ran")
        line = one_error_line(result)
        assert line.startswith("pycontain: ") and "symbolic link" in line, line
        assert "ran" not in result.stdout and os.listdir(source) == []
        assert pc.containers() == []
    finally:
        pc("rmi", image)


def test_volume_on_dev_shm_is_allowed(pc, tmp_path):
    pc.out("run", "--rm", "-v", f"{tmp_path}:/dev/shm", "busybox", "sh", "-c",
           "echo hi > /dev/shm/f")
    assert os.listdir(tmp_path) == ["f"]
