"""The C jail executor (csrc/jail_exec.c) on a real kernel, through
native.jail_spawn: descriptions written by hand (pycontain.fn.oneshot.describe's
format) on the bundled python image. What a call relies on: its root, its
mounts, its user, its descriptors, and a clear refusal of an image symlink
on a mount destination."""
import errno
import json
import os
import select
import shutil
import signal
import tempfile

import pytest

from pycontain import native as n
from pycontain import paths
from pycontain.fn.oneshot.describe import encode
from pycontain.image.store import ImageStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

NAMESPACES = n.CLONE_NEWNS | n.CLONE_NEWUTS | n.CLONE_NEWIPC | n.CLONE_NEWNET
RLIMIT_NOFILE, PR_SET_NO_NEW_PRIVS, MNT_DETACH = 7, 38, 2
# what the jail's python prints: what a handler would see of its jail
REPORT = """
import json, os, socket
os.waitpid(-1, 0)  # the helper (PID 2): the old root unmounted, lo up
print(json.dumps({
    "pid": os.getpid(), "uid": os.getuid(), "hostname": socket.gethostname(),
    "event": os.read(0, 100).decode(), "go": os.read(3, 100).decode(),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "mounts": [line.split()[1:4] for line in open("/proc/self/mounts")],
    "handler": open("/var/task/deep/handler.py").read(),
    "dev_fd": os.readlink("/dev/fd"),
    "nofile": __import__("resource").getrlimit(7),
    "blocked": [l.split()[1] for l in open("/proc/self/status") if l.startswith("SigBlk")][0],
    "cwd": os.getcwd(), "lo_up": open("/sys/class/net/lo/operstate").read().strip()
        if os.path.exists("/sys/class/net/lo") else None,
}))
"""


@pytest.fixture
def image():
    """(store root, the python image's lowers, top first, relative to it)."""
    store = ImageStore(paths.data_root())
    layers = store.resolve("python").layer_dirs
    return store.root, ":".join(os.path.relpath(d, store.root) for d in reversed(layers))


@pytest.fixture
def scratch():
    path = tempfile.mkdtemp(prefix="jail-exec-")
    try:
        yield path
    finally:
        shutil.rmtree(path)


def description(image, scratch, rootfs_ops=(), lowers_above=None, program="python3"):
    store_root, lowers = image
    handler = os.path.join(scratch, "handler.py")
    with open(handler, "w") as f:
        f.write("def handler(event, context):\n    return event\n")
    os.makedirs(os.path.join(scratch, "q"), exist_ok=True)
    if lowers_above:
        lowers = f"{lowers_above}:{lowers}"
    env = ["PATH=/usr/local/bin:/usr/bin:/bin", "_PYCONTAIN_HELPER=1"]
    return encode([
        ("U", NAMESPACES), ("p",), ("Q", os.path.join(scratch, "q"), "16m"),
        ("o", store_root, lowers, n.MS_NODEV),
        ("m", "proc", None, "/proc", n.MS_NOSUID | n.MS_NODEV | n.MS_NOEXEC, None),
        ("m", "tmpfs", "tmpfs", "/dev", n.MS_NOSUID | n.MS_STRICTATIME, "mode=755,size=65536k"),
        ("b", "/dev/null", "/dev/null", n.MS_NOSUID),
        ("l", "/proc/self/fd", "/dev/fd"),
        ("m", "sysfs", "sysfs", "/sys", n.MS_NOSUID | n.MS_NODEV | n.MS_NOEXEC | n.MS_RDONLY,
         None),
        *rootfs_ops,
        ("b", handler, "/var/task/deep/handler.py", n.MS_RDONLY | n.MS_NOSUID | n.MS_NODEV),
        ("b", scratch, "/opt/code", n.MS_RDONLY | n.MS_NOEXEC),  # a directory
        ("P",), ("Y", 2), ("u", ".", MNT_DETACH), ("I",), ("d", "/"),
        ("Z", "/proc/kcore"), ("z", "/proc/sys"), ("r",),
        ("H", "jailhost"), ("R", RLIMIT_NOFILE, 512, 512), ("A", "/var/task", 0o755),
        ("d", "/var/task"), ("W", PR_SET_NO_NEW_PRIVS, 1),
        *(("B", cap) for cap in range(64)),
        ("G",), ("g", 1000), ("V", 1000), ("K", 0, 0, 0),
        ("E", program, 4, "python3", "-I", "-c", REPORT, *env),
    ])


def run(data: bytes, event: bytes = b'{"x": 1}', go: bytes = b"go"):
    """Spawn the jail, hand it the event and the go-ahead: (exit code, what
    fd 1 got, what fd 2 got, what the error pipe got)."""
    event_fd = os.memfd_create("event")
    os.write(event_fd, event)
    os.lseek(event_fd, 0, os.SEEK_SET)
    (result_r, result_w), (log_r, log_w), (go_r, go_w), (err_r, err_w) = (
        os.pipe() for _ in range(4))
    try:
        pid = n.jail_spawn(data, event_fd, result_w, log_w, go_r, err_w)
    finally:
        for fd in (event_fd, result_w, log_w, go_r, err_w):
            os.close(fd)
    try:
        os.write(go_w, go)
    except BrokenPipeError:
        pass  # a jail that failed before its exec
    os.close(go_w)
    out, pending = {}, {result_r: b"", log_r: b"", err_r: b""}
    while pending:
        ready, _, _ = select.select(list(pending), [], [], 60)
        assert ready, "the jail did not finish in 60 s"
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                pending[fd] += chunk
            else:
                out[fd] = pending.pop(fd)
                os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out[result_r], out[log_r], out[err_r]


def test_a_jail_runs_its_call(image, scratch):
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    try:
        code, result, log, err = run(description(image, scratch))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    assert (code, err.decode(), log) == (0, "", b"")
    seen = json.loads(result)
    assert seen["pid"] == 1 and seen["uid"] == 1000 and seen["hostname"] == "jailhost"
    assert (seen["event"], seen["go"]) == ('{"x": 1}', "go")
    assert seen["fds"][:4] == [0, 1, 2, 3] and len(seen["fds"]) == 5  # + listdir's own
    mounts = {m[0]: m for m in seen["mounts"]}
    assert mounts["/"][1] == "overlay" and "ro" in mounts["/"][2].split(",")
    assert mounts["/proc"][1] == "proc" and mounts["/dev"][1] == "tmpfs"
    handler = mounts["/var/task/deep/handler.py"][2].split(",")
    assert {"ro", "nosuid", "nodev"} <= set(handler)
    assert seen["handler"].startswith("def handler(")
    assert {"ro", "noexec"} <= set(mounts["/opt/code"][2].split(","))
    assert not any(scratch in m[0] for m in seen["mounts"])  # the old root is gone
    assert seen["dev_fd"] == "/proc/self/fd" and seen["nofile"] == [512, 512]
    assert int(seen["blocked"], 16) == 0  # not the caller's thread's mask
    assert seen["cwd"] == "/var/task" and seen["lo_up"] in ("unknown", "up")
    assert os.listdir(os.path.join(scratch, "q")) == []  # the tmpfs was the jail's own


def test_an_image_symlink_on_a_mount_destination_is_refused(image, scratch):
    layer = os.path.join(scratch, "layer")
    os.makedirs(layer)
    os.symlink("/etc", os.path.join(layer, "tmp"))  # the image's /tmp -> /etc
    data = description(image, scratch, lowers_above=layer,
                       rootfs_ops=[("b", "/dev/null", "/tmp/sub/passwd", 0)])
    code, result, _, err = run(data)
    assert code == 125 and result == b""
    assert err == (b"125:the image's /tmp is a symbolic link: refusing to mount on "
                   b"/tmp/sub/passwd")
    assert not os.path.exists("/etc/sub")


def test_a_failing_op_says_which(image, scratch):
    data = description(image, scratch, rootfs_ops=[("b", "/nonexistent-src", "/x", 0)])
    code, _, _, err = run(data)
    assert code == 125 and err.startswith(b"125:jail: op ") and b"(b) failed: No such file" in err


def test_an_exec_that_finds_nothing(image, scratch):
    data = description(image, scratch, program="nopython")
    code, _, _, err = run(data)
    assert (code, err) == (127, b'127:exec: "nopython": executable file not found in $PATH')


def _children() -> set:
    found = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            found.update(f.read().split())
    return found


@pytest.mark.parametrize("data", [b"", b"PYCJAIL1", b"PYCJAIL1" + bytes(8),
                                  encode([("U", n.CLONE_NEWNS), ("p",)])])
def test_a_malformed_description_starts_nothing(data):
    before = _children()
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as raised:
            n.jail_spawn(data, r, w, w, r, w)
        assert raised.value.errno == errno.EINVAL
        assert not n.jail_check(data)
    finally:
        os.close(r)
        os.close(w)
    assert _children() == before
