"""Rootless mode: a normal user (created here, removed after) runs containers
and function jails without sudo, in a user namespace where it is root, and
gets nothing on the host it did not have before."""
import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYCONTAIN = os.environ.get("PYCONTAIN_BIN") or str(Path(sys.executable).parent / "pycontain")
USER_PREFIX = "pyctest-rl-"
USER = f"{USER_PREFIX}{os.getpid()}"  # this run's: concurrent runs never share (or remove) it


class UserEngine:
    """Runs pycontain as the test user, with its own XDG directories."""

    def __init__(self, home: Path):
        self.home = home
        self.data = home / "data"
        self.env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "XDG_DATA_HOME": str(self.data),
                    "XDG_RUNTIME_DIR": str(home / "run")}

    def __call__(self, *args, timeout=120, cwd=None):
        argv = ["runuser", "-u", USER, "--", "env", "-i",
                *[f"{k}={v}" for k, v in self.env.items()], *map(str, args)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              cwd=cwd or self.home)

    def pc(self, *args, **kwargs):
        return self(PYCONTAIN, *args, **kwargs)

    def popen(self, *args, **kwargs) -> subprocess.Popen:
        """pycontain started as the user, without runuser in between (it turns
        a SIGTERM into a SIGKILL two seconds later): for servers."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen([PYCONTAIN, *map(str, args)], user=USER, group=USER,
                                extra_groups=[], env=self.env, cwd=self.home, text=True,
                                **kwargs)

    def containers(self) -> list:
        directory = self.data / "pycontain" / "containers"
        return sorted(os.listdir(directory)) if directory.exists() else []


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    if not shutil.which("runuser") or not shutil.which("useradd"):
        pytest.skip("needs runuser and useradd")
    _remove_stale_users()
    home = Path(f"/home/{USER}")
    subprocess.run(["useradd", "-m", "-d", str(home), "-s", "/bin/sh", USER], check=True)
    try:
        engine = UserEngine(home)
        engine("mkdir", "-m", "700", str(home / "run"))
        # what ./install.sh run through sudo does for the invoking user
        done = engine("bash", str(REPO / "rootfs" / "import.sh"))
        assert done.returncode == 0, done.stderr
        listed = engine.pc("images", "--format", "json")
        assert {"localhost/busybox:latest", "localhost/python:latest"} <= {
            i["Name"] for i in json.loads(listed.stdout)}, listed.stdout
        yield engine
    finally:
        _remove_user(USER)


def _remove_user(name: str) -> None:
    """The test user, its processes and its home."""
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    subprocess.run(["userdel", "-r", "-f", name], capture_output=True)
    shutil.rmtree(f"/home/{name}", ignore_errors=True)


def _remove_stale_users() -> None:
    """The test users of earlier runs killed before their clean-up: those whose
    run (the pid in the name) is gone."""
    for entry in pwd.getpwall():
        run = entry.pw_name.removeprefix(USER_PREFIX)
        if run != entry.pw_name and run.isdigit() and not os.path.exists(f"/proc/{run}"):
            _remove_user(entry.pw_name)


@pytest.fixture
def rootless(user):
    yield user
    assert user.containers() == [], "a rootless run left its container directory behind"
    assert not os.listdir(user.home / "run" / "pycontain") if (
        user.home / "run" / "pycontain").exists() else True


def test_store_and_state_are_private(rootless):
    assert (rootless.data / "pycontain").stat().st_mode & 0o777 == 0o700
    result = rootless.pc("run", "--rm", "busybox", "true")
    assert result.returncode == 0, result.stderr
    assert (rootless.home / "run" / "pycontain").stat().st_mode & 0o077 == 0


def _open_to_others(top: Path) -> list:
    """What under a store is readable or writable by other users, except the
    unpacked layers' own trees (an image's files keep their modes)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        if Path(dirpath).parent.name == "layers":
            dirnames.clear()
            continue
        for path in [dirpath] + [os.path.join(dirpath, n) for n in filenames]:
            if os.lstat(path).st_mode & 0o077:
                found.append(f"{path} {os.lstat(path).st_mode & 0o777:o}")
    return found


def test_a_new_store_is_private_whichever_command_made_it(rootless):
    """`network ls` first made the store root 0755 (os.makedirs' parents), and
    blobs were 0644: other users could read a rootless user's images."""
    fresh = rootless.home / "fresh"
    rootless.env["XDG_DATA_HOME"] = str(fresh)
    try:
        assert rootless.pc("network", "ls").returncode == 0
        empty = rootless.pc("run", "--rm", "busybox", "true")  # says why and what to do
        assert empty.returncode == 125 and "store" in empty.stderr and "is empty" in \
            empty.stderr and "install.sh" in empty.stderr, empty.stderr
        result = rootless("bash", str(REPO / "rootfs" / "import.sh"))
        assert result.returncode == 0, result.stderr
        result = rootless.pc("run", "--rm", "busybox", "true")
        assert result.returncode == 0, result.stderr
        assert (fresh / "pycontain" / "blobs" / "sha256").is_dir()
        assert _open_to_others(fresh / "pycontain") == []
    finally:
        rootless.env["XDG_DATA_HOME"] = str(rootless.data)
        shutil.rmtree(fresh, ignore_errors=True)


def test_a_new_store_of_root_is_private_too(engine_env, tmp_path):
    """The same for root's store (/var/lib/pycontain made 0755 the same way)."""
    env = dict(engine_env, PYCONTAIN_ROOT=str(tmp_path / "store"),
               PYCONTAIN_RUNROOT=str(tmp_path / "run"))
    layout = Path(engine_env["PYCONTAIN_ROOT"]).parent / "layouts" / "busybox"
    for args in (["network", "ls"], ["import", f"oci:{layout}", "localhost/busybox:latest"]):
        done = subprocess.run([PYCONTAIN, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert _open_to_others(tmp_path / "store") == []


def test_no_runtime_dir_state_is_kept_in_the_store_not_in_tmp(rootless):
    """Without XDG_RUNTIME_DIR the state went to /tmp/pycontain-run-UID, which
    another user could create first and so stop every rootless run."""
    planted = Path(f"/tmp/pycontain-run-{pwd.getpwnam(USER).pw_uid}")
    shutil.rmtree(planted, ignore_errors=True)
    planted.mkdir()
    os.chown(planted, 65534, 65534)  # another user's (nobody's)
    saved = rootless.env.pop("XDG_RUNTIME_DIR")
    try:
        result = rootless.pc("run", "--name", "no-runtime-dir", "busybox", "sh", "-c", "exit 3")
        assert result.returncode == 3, result.stderr
        assert "Exited (3)" in rootless.pc("ps", "-a").stdout
        run = rootless.data / "pycontain" / "run"
        st = run.stat()
        assert st.st_uid == pwd.getpwnam(USER).pw_uid and st.st_mode & 0o777 == 0o700
        assert len(os.listdir(run)) == 1
        assert rootless.pc("rm", "no-runtime-dir").returncode == 0
        assert os.listdir(run) == [] and os.listdir(planted) == []
    finally:
        rootless.env["XDG_RUNTIME_DIR"] = saved
        shutil.rmtree(planted, ignore_errors=True)


def test_run_as_root_in_a_user_namespace(rootless):
    uid = pwd.getpwnam(USER).pw_uid
    result = rootless.pc("run", "--rm", "busybox", "sh", "-c",
                         "id -u; cat /proc/self/uid_map; grep -E '^(CapEff|Seccomp):' "
                         "/proc/self/status; echo hi > /tmp/x && cat /tmp/x")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(uid), "1"]
    assert "CapEff:\t00000000a80425fb" in lines and "Seccomp:\t2" in lines
    assert lines[-1] == "hi"


def test_subordinate_ids_map_image_users(rootless):
    result = rootless.pc("run", "--rm", "-u", "app", "busybox", "sh", "-c",
                         "id -u; touch /tmp/f; ls -ln /tmp/f")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "1000"


def test_root_only_host_file_stays_unreadable(rootless, tmp_path):
    secret = Path("/var/tmp") / f"pycontain-secret-{os.getpid()}"
    secret.write_text("top secret\n")
    os.chmod(secret, 0o600)
    try:
        result = rootless.pc("run", "--rm", "-v", f"{secret}:/secret:ro", "busybox",
                             "cat", "/secret")
        assert result.returncode != 0 and "top secret" not in result.stdout
        assert "Permission denied" in result.stderr or "permission denied" in result.stderr
    finally:
        secret.unlink()


@pytest.mark.parametrize("options", ["", ":ro", ":ro,dev"])
def test_volume_on_a_nosuid_noexec_mount(rootless, options):
    """Volumes are remounted nodev (and ro): the remount keeps the source's
    flags, which a user namespace may not lift (EPERM otherwise)."""
    source = Path("/var/tmp") / f"pycontain-locked-{os.getpid()}"
    source.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "nosuid,noexec,noatime,mode=0777", "tmpfs",
                    str(source)], check=True)
    try:
        (source / "f").write_text("hi\n")
        result = rootless.pc("run", "--rm", "-v", f"{source}:/data{options}", "busybox",
                             "sh", "-c", "cat /data/f; grep ' /data ' /proc/mounts")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        flags = set(lines[1].split()[3].split(","))
        assert lines[0] == "hi" and {"nosuid", "noexec"} <= flags
        assert ("nodev" in flags) != ("dev" in options) and ("ro" in flags) == ("ro" in options)
    finally:
        subprocess.run(["umount", str(source)], check=True)
        source.rmdir()


def test_escape_attempts_fail_rootless(rootless):
    result = rootless.pc("run", "--rm", "busybox", "sh", "-c",
                         "(mount -t tmpfs x /tmp; unshare -U true; "
                         "echo x > /proc/sysrq-trigger; cat /proc/kcore | wc -c) 2>&1")
    assert result.returncode == 0
    mount, unshare, sysrq, *_, kcore = result.stdout.lower().splitlines()
    assert "permission denied" in mount and "not permitted" in unshare
    assert "can't create /proc/sysrq-trigger" in sysrq and kcore == "0"


def test_limits_without_delegation_fail_clearly(rootless):
    from pycontain.oci.userns import cgroup_delegated
    if cgroup_delegated():
        pytest.skip("this host delegates a cgroup")
    result = rootless.pc("run", "--rm", "--memory", "64m", "busybox", "true")
    assert result.returncode == 125 and "delegated cgroup" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_exec_into_a_rootless_container(rootless):
    started = rootless.pc("run", "-d", "busybox", "sleep", "30")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    try:
        result = rootless.pc("exec", cid, "sh", "-c", "id -u; grep Seccomp: /proc/self/status")
        assert result.stdout.split() == ["0", "Seccomp:", "2"], result.stderr
    finally:
        rootless.pc("rm", "-f", cid)


def test_fn_exec_without_sudo(rootless):
    handler = rootless.home / "handler.py"
    rootless("sh", "-c", f"printf 'def handler(event, context):\\n    return event\\n' > {handler}")
    result = rootless.pc("fn", "exec", "--handler", "handler", "--event", '{"a": 1}', handler)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"a": 1}


def test_info_reports_rootless(rootless):
    data = json.loads(rootless.pc("info", "--format", "json").stdout)
    assert data["rootless"] is True and data["user_namespaces"] is True
    assert data["data_root"] == str(rootless.data / "pycontain")


def test_publishing_says_it_needs_root(rootless):
    """-p without --network asks for the default bridge, which needs root."""
    result = rootless.pc("run", "--rm", "-p", "8080:80", "busybox", "true")
    assert result.returncode == 125
    assert result.stderr == ("pycontain: --network bridge: bridge networks (and so -p/-P) need "
                             "root; rootless containers have --network none or host\n")


def test_named_volume_rootless(rootless):
    """A rootless store has volumes too (they start empty: no copy-up)."""
    for _ in range(2):
        result = rootless.pc("run", "--rm", "-v", "rv:/data", "busybox", "sh", "-c",
                             "echo x >> /data/f && cat /data/f")
        assert result.returncode == 0, result.stderr
    assert result.stdout == "x\nx\n"
    assert rootless.pc("volume", "rm", "rv").stdout == "rv\n"
