"""Volumes as a docker user relies on them: `volume create|ls|inspect|rm|prune`,
named volumes that keep data across containers and start with the image's
content, anonymous volumes (-v /path, the image's Volumes) that --rm and
rm -v remove, --mount of each type, --tmpfs, --shm-size and --sysctl."""
import json
import os
import stat
import subprocess
import sys

import pytest

from conftest import PYCONTAIN, REPO
from helpers import IDLE
from test_bad_input import assert_refused

SEED_IMAGE = "localhost/seeded:latest"


@pytest.fixture
def vpc(pc):
    """`pc`, plus: the test leaves no volume behind."""
    yield pc
    left = pc.out("volume", "ls", "-q").split()
    if left:
        pc("volume", "rm", "-f", *left)
    assert left == [], f"volumes left behind: {left}"


def volume_dir(pc, name):
    return json.loads(pc.out("volume", "inspect", name))[0]["Mountpoint"]


@pytest.fixture(scope="session")
def seeded_image(engine_env, tmp_path_factory):
    """busybox plus /seed (declared a Volume) holding: a set-uid file of uid
    1000, a directory of uid 2000 mode 0750, a hard link, a symlink to '/'
    and one to a host-looking path (umoci builds the layer)."""
    work = tmp_path_factory.mktemp("seed")
    subprocess.run([sys.executable, str(REPO / "rootfs" / "build.py"), str(work), "busybox"],
                   check=True, stdout=subprocess.DEVNULL)
    seed = work / "seed"
    (seed / "sub").mkdir(parents=True)
    (seed / "tool").write_text("tool\n")
    os.chown(seed / "tool", 1000, 1000)
    os.chmod(seed / "tool", 0o4750)
    os.chown(seed / "sub", 2000, 2000)
    os.chmod(seed / "sub", 0o750)
    os.link(seed / "tool", seed / "sub" / "tool-link")
    os.symlink("/", seed / "root-link")
    os.symlink("/etc/shadow", seed / "sub" / "shadow-link")
    os.chmod(seed, 0o711)
    image = f"{work / 'busybox'}:latest"
    subprocess.run(["umoci", "insert", "--image", image, str(seed), "/seed"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["umoci", "config", "--image", image, "--config.volume", "/seed"], check=True)
    subprocess.run([PYCONTAIN, "import", f"oci:{work / 'busybox'}", SEED_IMAGE],
                   check=True, env=engine_env, stdout=subprocess.DEVNULL)
    return SEED_IMAGE


def test_volume_commands(vpc):
    assert vpc.out("volume", "create", "--label", "tier=db", "data1") == "data1\n"
    random = vpc.out("volume", "create").strip()
    assert len(random) == 64 and int(random, 16) >= 0
    assert vpc.out("volume", "ls").splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(vpc.out("volume", "ls", "-q").split()) == sorted([random, "data1"])
    assert vpc.out("volume", "ls", "-q", "--filter", "label=tier=db").split() == ["data1"]
    assert vpc.out("volume", "ls", "-q", "--filter", "name=ata").split() == ["data1"]
    rows = [json.loads(ln) for ln in vpc.out("volume", "ls", "--format", "json").splitlines()]
    assert {r["Name"]: r["Labels"] for r in rows}["data1"] == "tier=db"
    info = json.loads(vpc.out("volume", "inspect", "data1"))[0]
    assert info == {"CreatedAt": info["CreatedAt"], "Driver": "local",
                    "Labels": {"tier": "db"}, "Mountpoint": str(vpc.root / "volumes" / "data1"
                                                                / "_data"),
                    "Name": "data1", "Options": {}, "Scope": "local"}
    meta = os.stat(vpc.root / "volumes" / "data1")
    assert (meta.st_uid, stat.S_IMODE(meta.st_mode)) == (0, 0o700)
    missing = vpc("volume", "rm", "nosuch")
    assert missing.returncode == 1 and "no such volume" in missing.stderr
    assert vpc("volume", "create", "bad/name").returncode == 125
    # prune: anonymous ones (made for a container) only, the others with -a
    vpc.out("run", "--name", "anon", "-v", "/scratch", "busybox", "true")
    anonymous = json.loads(vpc.out("inspect", "anon"))[0]["Mounts"][0]["Name"]
    assert vpc.out("volume", "prune", "-f") == "Total reclaimed space: 0B\n"  # used
    vpc.out("rm", "anon")
    out = vpc.out("volume", "prune", "-f")
    assert out.startswith(f"Deleted Volumes:\n{anonymous}\n\nTotal reclaimed space: ")
    out = vpc.out("volume", "prune", "-f", "-a")
    assert sorted(out.splitlines()[1:3]) == sorted([random, "data1"])


def test_named_volume_keeps_data_and_is_refused_while_used(vpc):
    vpc.out("run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert vpc.out("run", "--rm", "-v", "keep:/data:ro", "busybox", "cat", "/data/f") == "kept\n"
    assert "Read-only" in vpc("run", "--rm", "-v", "keep:/data:ro", "busybox", "touch",
                              "/data/g").stderr
    vpc.out("run", "-d", "--name", "user", "-v", "keep:/data", "busybox", "sh", "-c", IDLE)
    try:
        df = {ln[:16].strip(): ln[16:].split()
              for ln in vpc.out("system", "df").splitlines()[1:]}
        assert df["Local Volumes"][:2] == ["1", "1"]
        used = vpc("volume", "rm", "keep")
        assert used.returncode == 1 and "volume is in use" in used.stderr
        assert vpc.out("volume", "ls", "-q", "--filter", "dangling=true") == ""
    finally:
        vpc.out("rm", "-f", "user")
    assert vpc.out("volume", "rm", "keep") == "keep\n"


def test_anonymous_volumes_go_with_rm_and_rm_v(vpc):
    vpc.out("run", "--rm", "-v", "/scratch", "busybox", "touch", "/scratch/x")
    assert vpc.out("volume", "ls", "-q") == ""
    vpc.out("run", "--name", "a1", "-v", "/scratch", "busybox", "true")
    vpc.out("run", "--name", "a2", "-v", "/scratch", "busybox", "true")
    assert len(vpc.out("volume", "ls", "-q").split()) == 2
    vpc.out("rm", "-v", "a1")
    vpc.out("rm", "a2")  # without -v its volume stays, dangling, for prune
    out = vpc.out("system", "prune", "-f", "--volumes")
    assert "Deleted Volumes:" in out and vpc.out("volume", "ls", "-q") == ""


def test_copy_up_keeps_owners_modes_and_links(vpc, seeded_image):
    cid = vpc.out("run", "-d", "-v", "seeded:/seed", "-v", "etc:/etc",
                  seeded_image, "sh", "-c", IDLE).strip()
    try:
        # a named volume over /seed; the image's own /seed Volume is then not made
        assert vpc.out("volume", "ls", "-q").split() == ["etc", "seeded"]
        top = volume_dir(vpc, "seeded")
        st = os.lstat(top)
        assert stat.S_IMODE(st.st_mode) == 0o711
        tool = os.lstat(os.path.join(top, "tool"))
        assert (tool.st_uid, tool.st_gid, stat.S_IMODE(tool.st_mode)) == (1000, 1000, 0o4750)
        sub = os.lstat(os.path.join(top, "sub"))
        assert (sub.st_uid, stat.S_IMODE(sub.st_mode)) == (2000, 0o750)
        assert os.lstat(os.path.join(top, "sub", "tool-link")).st_ino == tool.st_ino
        assert os.readlink(os.path.join(top, "root-link")) == "/"  # copied, not followed
        assert os.readlink(os.path.join(top, "sub", "shadow-link")) == "/etc/shadow"
        assert sorted(os.listdir(top)) == ["root-link", "sub", "tool"]
        assert "root:x:0:0" in open(os.path.join(volume_dir(vpc, "etc"), "passwd")).read()
        # the container sees the copy
        assert vpc.out("exec", cid, "cat", "/seed/tool") == "tool\n"
    finally:
        vpc.out("rm", "-f", cid)
    # a volume that is not empty is never copied into again
    os.unlink(os.path.join(volume_dir(vpc, "seeded"), "tool"))
    assert vpc("run", "--rm", "-v", "seeded:/seed", seeded_image, "test", "-e",
               "/seed/tool").returncode == 1
    vpc.out("volume", "rm", "seeded", "etc")
    # the image's Volume without -v: anonymous, copied up, gone with --rm
    assert vpc.out("run", "--rm", seeded_image, "cat", "/seed/tool") == "tool\n"
    # a destination that is a symlink to '/' in the image copies the image's root, not ours
    vpc.out("run", "--rm", "-v", "esc:/seed/root-link", seeded_image, "true")
    copied = set(os.listdir(volume_dir(vpc, "esc")))
    image_root = set(vpc.out("run", "--rm", seeded_image, "ls", "/").split())
    assert {"seed", "bin"} <= copied <= image_root and set(os.listdir("/")) - image_root
    vpc.out("volume", "rm", "esc")
    # nocopy: an empty volume
    assert vpc.out("run", "--rm", "-v", "empty:/seed:nocopy", seeded_image, "ls", "/seed") == ""
    vpc.out("volume", "rm", "empty")


def test_copy_up_from_a_one_layer_image(vpc):
    out = vpc.out("run", "--rm", "-v", "pylib:/usr/lib/python3.11/json", "python", "python3",
                  "-c", "import json; print(json.dumps([1]))")
    assert out == "[1]\n"
    assert "decoder.py" in os.listdir(volume_dir(vpc, "pylib"))
    vpc.out("volume", "rm", "pylib")


def test_mount_types_tmpfs_and_shm_size(vpc, tmp_path):
    (tmp_path / "host").write_text("from host\n")
    out = vpc.out(
        "run", "--rm", "--shm-size", "100m",
        "--mount", f"type=bind,source={tmp_path},target=/h,readonly",
        "--mount", "type=volume,source=mv,target=/v,volume-label=k=v",
        "--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770",
        "--tmpfs", "/run:size=2m,exec", "busybox", "sh", "-c",
        "cat /h/host; touch /h/x 2>/dev/null || echo ro; touch /v/x && echo rw;"
        " grep -E ' /(t|run) ' /proc/mounts; df -k /dev/shm | tail -1")
    lines = out.splitlines()
    assert lines[:3] == ["from host", "ro", "rw"]
    mounts = {ln.split()[1]: ln.split()[3].split(",") for ln in lines[3:5]}
    assert {"size=1024k", "mode=1770", "noexec", "nodev", "nosuid"} <= set(mounts["/t"])
    assert "size=2048k" in mounts["/run"] and "noexec" not in mounts["/run"]
    assert lines[5].split()[1] == str(100 * 1024)
    assert json.loads(vpc.out("volume", "inspect", "mv"))[0]["Labels"] == {"k": "v"}
    assert os.listdir(tmp_path) == ["host"]
    vpc.out("volume", "rm", "mv")


def test_sysctl_in_a_bridge_container(npc):
    out = npc.out("run", "--rm", "--network", "bridge", "--sysctl", "net.ipv4.ip_forward=0",
                  "--sysctl", "kernel.shmmni=1234", "busybox", "cat",
                  "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni")
    assert out == "0\n1234\n"
    # the host side (the test's namespace) keeps forwarding on for the bridge
    assert subprocess.run([*npc.prefix, "cat", "/proc/sys/net/ipv4/ip_forward"],
                          capture_output=True, text=True).stdout == "1\n"


BAD = {
    "not-namespaced-sysctl": (["--sysctl", "kernel.core_pattern=x"], ["kernel.core_pattern"]),
    "net-sysctl-on-host": (["--network", "host", "--sysctl", "net.ipv4.ip_forward=1",
                            "-v", "made:/m"], ["host"]),
    "mount-unknown-key": (["--mount", "type=bind,src=/tmp,dst=/x,bogus=1"], ["bogus"]),
    "mount-no-target": (["--mount", "type=volume,source=made"], ["target"]),
    "mount-tmpfs-on-proc": (["--mount", "type=tmpfs,target=/proc/x"], ["/proc"]),
    "mount-bad-csv": (["--mount", '"type=bind'], ["--mount"]),
    "tmpfs-bad-option": (["--tmpfs", "/x:suid,bogus"], ["bogus"]),
    "shm-size-zero": (["--shm-size", "0"], ["--shm-size"]),
    "duplicate-destination": (["-v", "made:/x", "--tmpfs", "/x"], ["/x"]),
}


@pytest.mark.parametrize("args, words", list(BAD.values()), ids=list(BAD))
def test_bad_mount_flags_are_refused_and_leave_nothing(vpc, args, words):
    result = vpc("run", "--rm", *args, "busybox", "true")
    assert_refused(vpc, result, words)
    assert vpc.out("volume", "ls", "-q") == ""
