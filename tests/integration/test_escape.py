"""The escape battery: attempts to get out of a default container, each made
for real by a small C program (tests/integration/escape/attempts.c, compiled
statically with gcc here) and each checked twice: the attempt fails, and the
host is as it was before (kernel settings, modules, mounts, the interpreter
binary of the engine, files the attempts aim at)."""
import hashlib
import importlib.util
import os
import pty
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYCONTAIN = os.environ.get("PYCONTAIN_BIN") or str(Path(sys.executable).parent / "pycontain")
ATTEMPTS_C = Path(__file__).parent / "escape" / "attempts.c"
HOST_PYTHON = os.path.realpath(sys.executable)
HOST_FILES = ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/sysrq", "/proc/modules",
              "/proc/sys/kernel/hostname", "/sys/kernel/mm/transparent_hugepage/enabled",
              "/proc/sys/kernel/modules_disabled", "/proc/sys/kernel/cad_pid")


def _rootfs_build():
    spec = importlib.util.spec_from_file_location("pycontain_rootfs_build",
                                                  REPO / "rootfs" / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def escape_images(engine_env, tmp_path_factory):
    """escape: busybox + /usr/bin/attempts + a setuid-root copy; escape-symproc,
    -symnull, -symdev: the same with /proc, /dev/null or /dev a symlink."""
    build = _rootfs_build()
    work = tmp_path_factory.mktemp("escape")
    attempts = str(work / "attempts")
    subprocess.run(["gcc", "-static", "-O1", "-Wall", "-o", attempts, str(ATTEMPTS_C)], check=True)
    variants = {"escape": [], "escape-symproc": [("proc", "/")],
                "escape-symnull": [("dev/null", "/etc/target")],
                "escape-symdev": [("dev", "/tmp/fakedev")]}
    for name, links in variants.items():
        tree = build.busybox_tree()
        tree.copy_file("usr/bin/attempts", attempts)
        tree._put("usr/bin/suid-attempts",
                  build.Entry(tarfile.REGTYPE, mode=0o4755, source=attempts))
        tree.file("etc/target", b"original\n")
        tree.dir("tmp/fakedev")
        for path, target in links:
            tree.entries.pop(path, None)
            tree.symlink(path, target)
        layout = str(work / name)
        build.write_layout(layout, name, tree, ["sh"], ["PATH=/usr/bin:/bin"], 0)
        subprocess.run([PYCONTAIN, "import", f"oci:{layout}", f"localhost/{name}:latest"],
                       check=True, env=engine_env, stdout=subprocess.DEVNULL)
    return attempts


def host_state() -> dict:
    """What an escape would change on the host."""
    state = {}
    for path in HOST_FILES:
        try:
            state[path] = Path(path).read_bytes()
        except OSError as exc:
            state[path] = exc.errno
    with open(HOST_PYTHON, "rb") as f:
        state["python"] = hashlib.sha256(f.read()).hexdigest()
    mounts = Path("/proc/1/mountinfo").read_text()
    state["escape mounts"] = "pycontain-escape" in mounts
    state["release agents"] = sorted(
        (str(p), p.read_text()) for p in Path("/sys/fs/cgroup").glob("*/release_agent"))
    return state


def attempt(pc, name, *args, flags=()):
    return pc("run", "--rm", *flags, "escape", "attempts", name, *args)


def root_disk() -> str:
    st = os.stat("/")
    return f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"


SIMPLE = ["mount", "remount-proc", "remount-sys", "mount-proc", "unshare-user", "unshare-mount",
          "clone-userns", "setns", "keyctl", "add_key", "bpf", "module", "delete-module",
          "reboot", "kexec", "sysrq", "kcore", "proc-keys", "shocker", "cgroup-mount",
          "pivot_root", "chroot-escape", "userfaultfd", "io_uring", "perf", "swapon",
          "personality", "settime", "iopl"]


@pytest.mark.parametrize("name", SIMPLE)
def test_attempt_fails_and_host_is_unchanged(pc, escape_images, name):
    before = host_state()
    result = attempt(pc, name)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "blocked" in result.stdout and "ESCAPED" not in result.stdout
    assert host_state() == before


@pytest.mark.parametrize("name,path", [
    ("proc-sys", "/proc/sys/kernel/core_pattern"),
    ("sys-write", "/sys/kernel/mm/transparent_hugepage/enabled"),
])
def test_kernel_setting_writes_fail(pc, escape_images, name, path):
    """Writes the host's current value back, so even a success changes nothing."""
    before = host_state()
    current = Path(path).read_text().split("[")[-1].split("]")[0].strip() or "core"
    result = attempt(pc, name, current)
    assert result.returncode == 1 and "Read-only file system" in result.stdout, result.stdout
    assert host_state() == before


def test_mknod_block_device_of_the_host_disk_is_inert(pc, escape_images):
    before = host_state()
    result = attempt(pc, "mknod-block", root_disk())
    assert result.returncode == 1 and "ESCAPED" not in result.stdout, result.stdout
    assert host_state() == before


def test_release_agent_cannot_be_written(pc, escape_images):
    """CVE-2022-0492: no cgroup mount, and the hierarchies we show are read-only."""
    before = host_state()
    script = ("for f in /sys/fs/cgroup/*/release_agent /sys/fs/cgroup/release_agent; do "
              "[ -e $f ] && attempts release-agent $f && exit 0; done; "
              "attempts cgroup-mount")
    result = pc("run", "--rm", "escape", "sh", "-c", script)
    assert result.returncode == 1 and "ESCAPED" not in result.stdout, result.stdout
    assert host_state() == before


@pytest.mark.parametrize("name", ["ptrace", "kill-host"])
def test_host_processes_are_out_of_reach(pc, escape_images, name):
    result = attempt(pc, name, str(os.getpid()))
    assert result.returncode == 1 and "No such process" in result.stdout, result.stdout


def test_proc_exe_of_the_entering_engine_cannot_be_opened(pc, escape_images):
    """CVE-2019-5736: while `exec`s enter the container, a process inside keeps
    trying to open their /proc/PID/exe (the host interpreter)."""
    before = host_state()
    ino = str(os.stat(HOST_PYTHON).st_ino)
    cid = pc.out("run", "-d", "escape", "attempts", "exe-scan", ino).strip()
    try:
        for _ in range(15):
            pc("exec", cid, "true")
        for _ in range(100):
            log = pc("logs", cid).stdout
            if "blocked" in log or "ESCAPED" in log:
                break
            time.sleep(0.1)
        assert "blocked: never opened the host interpreter" in log, log
    finally:
        pc("rm", "-f", cid)
    assert host_state() == before


@pytest.mark.parametrize("fd", range(3, 9))
def test_leaked_fd_working_directory_fails(pc, escape_images, fd):
    """CVE-2024-21626: no engine fd survives into the container to chdir into."""
    result = pc("run", "--rm", "-w", f"/proc/self/fd/{fd}", "escape", "pwd")
    assert result.returncode == 125, (result.stdout, result.stderr)
    assert "working directory" in result.stderr


def test_leaked_fd_working_directory_fails_for_exec(pc, escape_images):
    cid = pc.out("run", "-d", "escape", "sleep", "30").strip()
    try:
        for fd in range(3, 9):
            result = pc("exec", "-w", f"/proc/self/fd/{fd}", cid, "pwd")
            assert result.returncode != 0 and not result.stdout.startswith("/"), result.stdout
    finally:
        pc("rm", "-f", cid)


def test_symlinked_proc_in_the_image_is_refused(pc, escape_images):
    before = host_state()
    result = pc("run", "--rm", "escape-symproc", "true")
    assert result.returncode == 125 and "symbolic link" in result.stderr, result.stderr
    assert host_state() == before


def test_symlinked_dev_in_the_image_is_refused(pc, escape_images):
    result = pc("run", "--rm", "escape-symdev", "true")
    assert result.returncode == 125 and "symbolic link" in result.stderr, result.stderr


def test_symlinked_dev_null_in_the_image_is_shadowed(pc, escape_images):
    """CVE-2025-31133 family: masking binds our own null device, never the
    image's /dev/null, and writes to /dev/null reach no file."""
    result = pc("run", "--rm", "escape-symnull", "sh", "-c",
                "echo pwned > /dev/null; cat /etc/target; cat /proc/kcore | wc -c")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["original", "0"]


def test_tiocsti_cannot_push_input_to_the_callers_terminal(pc, escape_images):
    """CVE-2017-5226: a non-tty run is in its own session, so the caller's
    terminal (given as stdin with -i) is not its controlling terminal."""
    master, slave = pty.openpty()
    try:
        result = subprocess.run([PYCONTAIN, "run", "--rm", "-i", "escape", "attempts", "tiocsti"],
                                stdin=slave, capture_output=True, text=True, env=pc.env,
                                timeout=60)
        assert result.returncode == 1 and "blocked" in result.stdout, result.stdout
        os.set_blocking(master, False)
        try:
            injected = os.read(master, 100)
        except BlockingIOError:
            injected = b""
        assert b"x" not in injected
    finally:
        os.close(master)
        os.close(slave)


def test_setuid_binary_gains_nothing_under_no_new_privileges(pc, escape_images):
    plain = pc("run", "--rm", "-u", "app", "escape", "suid-attempts", "euid")
    assert plain.stdout.strip() == "euid=0"  # the setuid bit works without the option
    nnp = pc("run", "--rm", "-u", "app", "--security-opt", "no-new-privileges", "escape",
             "suid-attempts", "euid")
    assert nnp.stdout.strip() == "euid=1000", nnp.stderr


def test_privileged_lifts_the_restrictions(pc, escape_images):
    """The control for the battery: the same program succeeds when allowed."""
    for name in ("mount", "unshare-mount", "keyctl"):
        result = attempt(pc, name, flags=("--privileged",))
        assert result.returncode == 0 and "ESCAPED" in result.stdout, (name, result.stdout)
