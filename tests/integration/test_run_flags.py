"""`pycontain run` flags, with the semantics a docker user relies on:
the overlay root, --read-only, volumes, environment, working directory, user,
entrypoint/command precedence, --name, --init, --rm and stdin."""
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from conftest import PYCONTAIN, REPO
from helpers import reap

ENTRY_IMAGE = "localhost/entry:latest"


@pytest.fixture(scope="session")
def entry_image(engine_env, tmp_path_factory):
    """A busybox image with Entrypoint ["/bin/echo", "entry:"], Cmd ["cmd1", "cmd2"]
    and IMAGE_VAR=from-image in its Env, built with the real tools (umoci)."""
    layouts = tmp_path_factory.mktemp("entry-layout")
    subprocess.run([sys.executable, str(REPO / "rootfs" / "build.py"), str(layouts), "busybox"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["umoci", "config", "--image", f"{layouts / 'busybox'}:latest",
                    "--config.entrypoint", "/bin/echo", "--config.entrypoint", "entry:",
                    "--config.cmd", "cmd1", "--config.cmd", "cmd2",
                    "--config.env", "IMAGE_VAR=from-image"], check=True)
    subprocess.run([PYCONTAIN, "import", f"oci:{layouts / 'busybox'}", ENTRY_IMAGE],
                   check=True, env=engine_env, stdout=subprocess.DEVNULL)
    return ENTRY_IMAGE


def env_of(output: str) -> dict:
    return dict(line.split("=", 1) for line in output.splitlines())


def files_named(directory, name: str) -> list:
    """Paths of the files and directories called name anywhere under directory."""
    return [os.path.join(d, name) for d, dirs, files in os.walk(directory)
            if name in files or name in dirs]


def contents(paths) -> dict:
    out = {}
    for path in paths:
        with open(path, "rb") as f:
            out[path] = f.read()
    return out


def upper_dir(pc, name: str) -> str:
    """The host directory that receives a container's writes."""
    return json.loads(pc.out("inspect", name))[0]["GraphDriver"]["Data"]["UpperDir"]


def read_text(path) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def one_line_error(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pycontain: "), result.stderr
    return lines[0]


# ---------------------------------------------------------------- overlay root

def test_writes_never_reach_the_image_layers(pc):
    layers = pc.root / "layers"
    assert layers.is_dir() and os.listdir(layers)
    marker = f"marker-{uuid.uuid4().hex}"
    group_before = contents(p for p in files_named(layers, "group") if os.path.isfile(p))
    assert group_before
    pc.out("run", "--name", "writer", "busybox", "sh", "-c",
           f"echo data > /{marker} && mkdir /etc/{marker} && echo data > /bin/{marker}"
           " && echo extra:x:4242: >> /etc/group")
    try:
        assert files_named(layers, marker) == []
        assert contents(p for p in files_named(layers, "group") if os.path.isfile(p)) == group_before
        # the writes went to the container's own upper directory instead
        upper = upper_dir(pc, "writer")
        assert sorted(files_named(upper, marker)) == sorted(
            os.path.join(upper, d, marker) for d in ("", "bin", "etc"))
    finally:
        pc.out("rm", "writer")
    # and a fresh container sees the image unchanged
    assert pc("run", "--rm", "busybox", "test", "-e", f"/{marker}").returncode == 1
    assert "extra:x:4242:" not in pc.out("run", "--rm", "busybox", "cat", "/etc/group")


def test_containers_do_not_see_each_others_writes(pc):
    pc.out("run", "-d", "--name", "first", "busybox", "sh", "-c",
           "echo first > /etc/shared-file && exec sleep 1000")
    try:
        written = os.path.join(upper_dir(pc, "first"), "etc", "shared-file")
        deadline = time.monotonic() + 30
        while read_text(written) != "first\n":
            assert time.monotonic() < deadline, "the first container never wrote its file"
            time.sleep(0.01)
        # while the first container runs, a second one has the image's /etc
        second = pc("run", "--name", "second", "busybox", "sh", "-c",
                    "cat /etc/shared-file; echo second > /etc/shared-file")
        assert second.stdout == "" and "No such file" in second.stderr
        assert read_text(os.path.join(upper_dir(pc, "second"), "etc", "shared-file")) == "second\n"
        assert read_text(written) == "first\n"
        assert pc("run", "--rm", "busybox", "test", "-e", "/etc/shared-file").returncode == 1
    finally:
        pc.out("rm", "-f", "first", "second")


def test_file_deleted_in_a_container_is_still_in_the_image(pc):
    result = pc("run", "--rm", "busybox", "sh", "-c",
                "rm /etc/passwd && rm -r /home/app && test ! -e /etc/passwd && echo deleted")
    assert result.stdout == "deleted\n", result.stderr
    assert pc.out("run", "--rm", "busybox", "cat", "/etc/passwd").startswith("root:x:0:0:")
    assert pc("run", "--rm", "busybox", "test", "-d", "/home/app").returncode == 0
    assert [p for p in files_named(pc.root / "layers", "passwd") if p.endswith("/etc/passwd")]


# ---------------------------------------------------------------- --read-only

def test_read_only_root(pc):
    result = pc("run", "--rm", "--read-only", "busybox", "touch", "/new-file")
    assert result.returncode == 1
    assert "Read-only file system" in result.stderr
    result = pc("run", "--rm", "--read-only", "busybox", "sh", "-c", "echo x >> /etc/passwd")
    assert result.returncode != 0 and "Read-only file system" in result.stderr


def test_read_only_root_keeps_dev_shm_and_volumes_writable(pc, tmp_path):
    out = pc.out("run", "--rm", "--read-only", "-v", f"{tmp_path}:/data", "busybox", "sh", "-c",
                 "echo shm > /dev/shm/f && cat /dev/shm/f && echo vol > /data/f")
    assert out == "shm\n"
    assert (tmp_path / "f").read_text() == "vol\n"


# ---------------------------------------------------------------- volumes

def test_volume_read_write(pc, tmp_path):
    (tmp_path / "from-host").write_text("host data\n")
    out = pc.out("run", "--rm", "-v", f"{tmp_path}:/data", "busybox", "sh", "-c",
                 "cat /data/from-host && echo container data > /data/from-container")
    assert out == "host data\n"
    assert (tmp_path / "from-container").read_text() == "container data\n"


def test_volume_read_only(pc, tmp_path):
    (tmp_path / "from-host").write_text("host data\n")
    result = pc("run", "--rm", "-v", f"{tmp_path}:/data:ro", "busybox", "sh", "-c",
                "cat /data/from-host; touch /data/new")
    assert result.stdout == "host data\n"
    assert result.returncode == 1 and "Read-only file system" in result.stderr
    assert os.listdir(tmp_path) == ["from-host"]
    # the host directory itself stays writable
    (tmp_path / "still-writable").write_text("")


def test_file_volume(pc, tmp_path):
    conf = tmp_path / "app.conf"
    conf.write_text("setting=1\n")
    out = pc.out("run", "--rm", "-v", f"{conf}:/config/app.conf", "busybox", "sh", "-c",
                 "test -f /config/app.conf && cat /config/app.conf && echo more=2 >> /config/app.conf")
    assert out == "setting=1\n"
    assert conf.read_text() == "setting=1\nmore=2\n"
    assert os.listdir(tmp_path) == ["app.conf"]


# ---------------------------------------------------------------- environment

def test_env_key_value(pc):
    env = env_of(pc.out("run", "--rm", "-e", "GREETING=hello world", "-e", "EQ=a=b",
                        "--env", "EMPTY=", "busybox", "env"))
    assert env["GREETING"] == "hello world"
    assert env["EQ"] == "a=b"
    assert env["EMPTY"] == ""
    env = env_of(pc.out("run", "--rm", "-e", "HOME=/custom", "-e", "HOSTNAME=mine",
                        "busybox", "env"))
    assert env["HOME"] == "/custom" and env["HOSTNAME"] == "mine"


def test_env_key_alone_copies_the_callers_value(pc, monkeypatch):
    monkeypatch.setitem(pc.env, "PCTEST_FROM_CALLER", "caller's value")
    monkeypatch.delitem(pc.env, "PCTEST_NOT_SET", raising=False)
    env = env_of(pc.out("run", "--rm", "-e", "PCTEST_FROM_CALLER", "-e", "PCTEST_NOT_SET",
                        "busybox", "env"))
    assert env["PCTEST_FROM_CALLER"] == "caller's value"
    assert "PCTEST_NOT_SET" not in env  # docker drops a name the caller has not set


def test_env_file(pc, tmp_path, monkeypatch):
    env_file = tmp_path / "vars.env"
    env_file.write_text("# a comment\n\nFILE_A=1\nFILE_B=two words\nPCTEST_FROM_CALLER\n")
    monkeypatch.setitem(pc.env, "PCTEST_FROM_CALLER", "caller")
    env = env_of(pc.out("run", "--rm", "--env-file", str(env_file), "busybox", "env"))
    assert env["FILE_A"] == "1" and env["FILE_B"] == "two words"
    assert env["PCTEST_FROM_CALLER"] == "caller"  # a bare name copies the caller's value
    assert not [k for k in env if k.startswith("#") or not k]


def test_env_precedence_image_then_env_file_then_e(pc, tmp_path, entry_image):
    env_file = tmp_path / "vars.env"
    env_file.write_text("IMAGE_VAR=from-file\nFILE_ONLY=from-file\nBOTH=from-file\n")
    env = env_of(pc.out("run", "--rm", "--entrypoint", "env", entry_image))
    assert env["IMAGE_VAR"] == "from-image"
    env = env_of(pc.out("run", "--rm", "--env-file", str(env_file), "--entrypoint", "env",
                        entry_image))
    assert env["IMAGE_VAR"] == "from-file"
    env = env_of(pc.out("run", "--rm", "-e", "BOTH=from-e", "--env-file", str(env_file),
                        "-e", "IMAGE_VAR=from-e", "--entrypoint", "env", entry_image))
    assert env["IMAGE_VAR"] == "from-e" and env["BOTH"] == "from-e"
    assert env["FILE_ONLY"] == "from-file"
    env = env_of(pc.out("run", "--rm", "-e", "PATH=/usr/bin:/bin", "busybox", "env"))
    assert env["PATH"] == "/usr/bin:/bin"  # -e overrides the image's own PATH too


# ---------------------------------------------------------------- working directory

def test_default_workdir_is_root(pc):
    assert pc.out("run", "--rm", "busybox", "pwd") == "/\n"


def test_workdir(pc):
    assert pc.out("run", "--rm", "-w", "/tmp", "busybox", "pwd") == "/tmp\n"
    assert pc.out("run", "--rm", "--workdir", "/etc", "busybox", "sh", "-c",
                  "pwd; ls passwd") == "/etc\npasswd\n"


def test_missing_workdir_is_created(pc):
    assert pc.out("run", "--rm", "-w", "/new/dir", "busybox", "sh", "-c",
                  "pwd; test -d /new/dir && echo exists") == "/new/dir\nexists\n"
    assert pc.out("run", "--rm", "-u", "app", "-w", "/made/for/app", "busybox",
                  "pwd") == "/made/for/app\n"


# ---------------------------------------------------------------- user

def user_info(pc, *flags) -> tuple:
    out = pc.out("run", "--rm", *flags, "busybox", "sh", "-c", 'id -u; id -g; echo "$HOME"')
    uid, gid, home = out.splitlines()
    return int(uid), int(gid), home


def test_user_by_name(pc):
    assert user_info(pc, "-u", "app") == (1000, 1000, "/home/app")
    assert user_info(pc, "--user", "root") == (0, 0, "/root")


def test_user_uid_and_gid(pc):
    assert user_info(pc, "-u", "1000:1000") == (1000, 1000, "/home/app")
    assert user_info(pc, "-u", "app:root") == (1000, 0, "/home/app")


def test_numeric_user_not_in_passwd(pc):
    assert user_info(pc, "-u", "4242") == (4242, 0, "/")
    assert user_info(pc, "-u", "4242:4343") == (4242, 4343, "/")


def test_default_user_is_root(pc):
    assert user_info(pc) == (0, 0, "/root")


def test_non_root_user_cannot_write_roots_files(pc):
    result = pc("run", "--rm", "-u", "app", "busybox", "sh", "-c",
                "touch /home/app/mine && echo ok; touch /etc/passwd")
    assert result.stdout == "ok\n"
    assert result.returncode == 1 and "Permission denied" in result.stderr


# ---------------------------------------------------------------- entrypoint and command

def test_image_cmd_is_used_without_a_command(pc):
    # busybox's Cmd is ["sh"]: a shell that reads its commands from stdin
    assert pc.out("run", "--rm", "-i", "busybox", input="echo from sh $$\n") == "from sh 1\n"


def test_command_replaces_the_image_cmd(pc):
    assert pc.out("run", "--rm", "busybox", "echo", "replaced") == "replaced\n"


def test_image_entrypoint_and_cmd(pc, entry_image):
    assert pc.out("run", "--rm", entry_image) == "entry: cmd1 cmd2\n"


def test_command_is_appended_to_the_image_entrypoint(pc, entry_image):
    assert pc.out("run", "--rm", entry_image, "a", "b c") == "entry: a b c\n"


def test_entrypoint_flag_drops_the_image_cmd(pc, entry_image):
    assert pc.out("run", "--rm", "--entrypoint", "/bin/echo", entry_image) == "\n"
    assert pc.out("run", "--rm", "--entrypoint", "echo", entry_image, "x", "y") == "x y\n"


def test_empty_entrypoint_with_a_command(pc, entry_image):
    assert pc.out("run", "--rm", "--entrypoint", "", entry_image, "echo", "hi") == "hi\n"


def test_empty_entrypoint_without_a_command_is_an_error(pc, entry_image):
    result = pc("run", "--rm", "--entrypoint", "", entry_image)
    assert result.returncode == 125
    assert "command" in one_line_error(result)
    assert pc.containers() == []


# ---------------------------------------------------------------- --name

def test_name_is_shown_and_usable(pc):
    pc.out("run", "--name", "named-box", "busybox", "true")
    rows = json.loads(pc.out("ps", "-a", "--format", "json"))
    assert [r["Name"] for r in rows] == ["named-box"]
    assert rows[0]["State"] == "exited" and rows[0]["ExitCode"] == 0
    table = pc.out("ps", "-a").splitlines()
    assert len(table) == 2 and table[1].split()[-1] == "named-box"
    assert "named-box" not in pc.out("ps")  # not running
    info = json.loads(pc.out("inspect", "named-box"))[0]
    assert info["Name"].lstrip("/") == "named-box"
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 0
    assert pc.out("inspect", info["Id"][:12]) == pc.out("inspect", "named-box")
    assert pc.out("rm", "named-box").strip() == "named-box"
    assert pc.containers() == []
    assert json.loads(pc.out("ps", "-a", "--format", "json")) == []
    result = pc("inspect", "named-box")
    assert result.returncode != 0 and "named-box" in one_line_error(result)


def test_name_can_be_reused_after_rm(pc):
    pc.out("run", "--name", "reused", "busybox", "true")
    pc.out("rm", "reused")
    assert pc.out("run", "--rm", "--name", "reused", "busybox", "echo", "again") == "again\n"


# ---------------------------------------------------------------- --init

def test_init_is_pid_1(pc):
    out = pc.out("run", "--rm", "--init", "busybox", "sh", "-c",
                 "tr '\\0' ' ' < /proc/1/cmdline; echo; readlink /proc/1/exe; echo $$")
    cmdline, exe, own_pid = out.splitlines()
    assert cmdline.startswith("/dev/init sh -c ")
    assert exe == "/dev/init"
    assert own_pid != "1"
    # without --init the command itself is PID 1
    assert pc.out("run", "--rm", "busybox", "sh", "-c", "echo $$") == "1\n"


# Run in the python image: PID 1 (or the command under --init) forks a child
# that forks three grandchildren and exits, so they are orphaned and
# re-parented to PID 1. Python never waits for them, so they stay zombies
# unless PID 1 reaps them. Waits (bounded) for the expected outcome and prints
# each grandchild's final state: Z (zombie) or gone (reaped).
REAP_SCRIPT = r"""
import os, sys, time
expect = sys.argv[1]
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(r)
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.write(w, b"%d\n" % pid)
    os._exit(0)
os.close(w)
with os.fdopen(r) as f:
    orphans = [int(line) for line in f]
os.waitpid(child, 0)

def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return f"{fields[0]}:ppid={fields[1]}"
    except FileNotFoundError:
        return "gone"

deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    states = [state(p) for p in orphans]
    if all(s == expect or s.startswith(expect + ":") for s in states):
        break
    time.sleep(0.01)
print(os.getpid(), *states)
"""


def test_without_init_orphaned_zombies_are_not_reaped(pc):
    # the control for the next test: with a PID 1 that never waits, zombies stay
    out = pc.out("run", "--rm", "python", "python3", "-c", REAP_SCRIPT, "Z")
    assert out.split() == ["1", "Z:ppid=1", "Z:ppid=1", "Z:ppid=1"]


def test_init_reaps_orphaned_zombies(pc):
    out = pc.out("run", "--rm", "--init", "python", "python3", "-c", REAP_SCRIPT, "gone")
    pid, *states = out.split()
    assert pid != "1"
    assert states == ["gone", "gone", "gone"]


def test_init_passes_the_exit_code_through(pc):
    assert pc("run", "--rm", "--init", "busybox", "sh", "-c", "exit 7").returncode == 7
    assert pc.out("run", "--rm", "--init", "busybox", "echo", "hi") == "hi\n"


# ---------------------------------------------------------------- --rm

def test_rm_removes_the_container(pc):
    assert pc.out("run", "--rm", "busybox", "echo", "gone") == "gone\n"
    assert pc.containers() == []
    assert os.listdir(pc.runroot) == []
    assert json.loads(pc.out("ps", "-a", "--format", "json")) == []


def test_without_rm_the_container_is_kept(pc):
    assert pc("run", "--name", "kept", "busybox", "sh", "-c", "exit 3").returncode == 3
    assert len(pc.containers()) == 1
    rows = json.loads(pc.out("ps", "-a", "--format", "json"))
    assert [(r["Name"], r["State"], r["ExitCode"]) for r in rows] == [("kept", "exited", 3)]
    pc.out("rm", "kept")
    assert pc.containers() == []


# ---------------------------------------------------------------- stdin

def test_interactive_passes_stdin(pc):
    data = "line one\nline two\n" + "x" * 100_000 + "\n"
    assert pc.out("run", "--rm", "-i", "busybox", "cat", input=data) == data
    assert pc.out("run", "--rm", "--interactive", "busybox", "sh", "-c",
                  "read a; read b; echo \"$b/$a\"", input="1\n2\n") == "2/1\n"


def test_without_interactive_stdin_is_empty(pc):
    result = pc("run", "--rm", "busybox", "cat", input="ignored\n", timeout=30)
    assert result.returncode == 0 and result.stdout == ""


def test_without_interactive_an_open_stdin_is_not_read(pc):
    # the caller's stdin stays open and silent: cat must still see end of file at once
    proc = pc.popen("run", "--rm", "busybox", "cat", stdin=subprocess.PIPE)
    try:
        assert proc.wait(timeout=30) == 0
        assert proc.stdout.read() == ""
    finally:
        proc.stdin.close()
        reap(proc)
