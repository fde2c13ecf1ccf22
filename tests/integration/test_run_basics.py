"""`pycontain run`: isolation of a container from the host."""
import os
import socket


def test_echo_hello(pc):
    result = pc("run", "--rm", "busybox", "echo", "hello")
    assert result.returncode == 0
    assert result.stdout == "hello\n"


def test_command_is_pid_1_and_host_processes_are_invisible(pc):
    out = pc.out("run", "--rm", "busybox", "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'")
    pid, count = out.split()
    assert pid == "1"
    assert int(count) <= 3  # sh, ls and grep only
    assert os.getpid() > 2


def test_own_hostname_defaults_to_short_id_and_can_be_set(pc):
    name = pc.out("run", "--rm", "busybox", "hostname").strip()
    assert name != socket.gethostname() and len(name) == 12
    assert pc.out("run", "--rm", "--hostname", "box1", "busybox", "cat", "/etc/hostname") == "box1\n"


def test_only_loopback_network(pc):
    out = pc.out("run", "--rm", "busybox", "cat", "/proc/net/dev")
    interfaces = [ln.split(":")[0].strip() for ln in out.splitlines()[2:]]
    assert interfaces == ["lo"]
    assert "UP" in pc.out("run", "--rm", "busybox", "ip", "link", "show", "lo")


def test_host_network_shares_interfaces(pc):
    out = pc.out("run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev")
    assert len(out.splitlines()) > 3


def test_own_namespaces(pc):
    out = pc.out("run", "--rm", "busybox", "sh", "-c",
                 "for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done")
    theirs = out.split()
    ours = [os.readlink(f"/proc/self/ns/{n}") for n in ("pid", "mnt", "uts", "ipc", "net")]
    assert all(a != b for a, b in zip(theirs, ours))


def test_own_mounts_and_none_on_host(pc):
    out = pc.out("run", "--rm", "busybox", "cat", "/proc/self/mountinfo")
    assert " / / " in out and "overlay" in out.splitlines()[0]
    mount_points = [line.split()[4] for line in out.splitlines()]
    assert mount_points[0] == "/"
    assert not [m for m in mount_points if m.startswith(("/work", "/root", "/var/lib"))]


def test_minimal_dev(pc):
    out = pc.out("run", "--rm", "busybox", "ls", "/dev")
    names = set(out.split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm",
            "mqueue"} <= names
    assert not names & {"sda", "vda", "kmsg", "mem", "loop0"}
    assert pc.out("run", "--rm", "busybox", "sh", "-c", "echo x > /dev/null; head -c 4 /dev/zero | wc -c").strip() == "4"


def test_sys_is_read_only(pc):
    result = pc("run", "--rm", "busybox", "sh", "-c", "touch /sys/x")
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr


def test_etc_files(pc):
    out = pc.out("run", "--rm", "--hostname", "h1", "busybox", "cat", "/etc/hosts")
    assert "127.0.0.1\tlocalhost" in out and "h1" in out
    assert pc("run", "--rm", "busybox", "test", "-f", "/etc/resolv.conf").returncode == 0


def test_default_env(pc):
    out = pc.out("run", "--rm", "--hostname", "h2", "busybox", "env")
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["HOSTNAME"] == "h2" and env["HOME"] == "/root"
    assert "/bin" in env["PATH"]
    assert "PYCONTAIN_ROOT" not in env  # nothing of the caller's environment leaks in


def test_python_image_runs_python(pc):
    out = pc.out("run", "--rm", "python", "python3", "-c", "import json, ssl; print(json.dumps([1]))")
    assert out == "[1]\n"
