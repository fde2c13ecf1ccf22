"""`cp` between containers and the host, both ways, as tar streams too, and
never through a symlink out of the container's root."""
import io
import os
import shutil
import subprocess
import tarfile
import uuid

import pytest

from helpers import IDLE, one_error_line, wait_for

SETUP = ("mkdir -p /data/sub && echo inside > /data/sub/f && ln -s /etc/passwd /data/link && "
         "touch /ready && ")


@pytest.fixture(params=["running", "stopped"])
def box(pc, request):
    """A container holding /data (sub/f, link), running or stopped."""
    name = f"cp-{request.param}"
    pc.out("run", "-d", "--name", name, "busybox", "sh", "-c", SETUP + IDLE)
    try:
        wait_for(lambda: pc("exec", name, "test", "-e", "/ready").returncode == 0,
                 what="the set-up")
        if request.param == "stopped":
            pc.out("stop", "-t", "0", name)
        yield name
    finally:
        pc("rm", "-f", name)


def read_in(pc, name, path):
    """A file's content in the container (exec if it runs, else through cp -)."""
    import json
    info = json.loads(pc.out("inspect", name))[0]
    if info["State"]["Running"]:
        return pc.out("exec", name, "cat", path)
    copied = subprocess.run([_bin(), "cp", f"{name}:{path}", "-"], env=pc.env,
                            capture_output=True)
    assert copied.returncode == 0, copied.stderr
    with tarfile.open(fileobj=io.BytesIO(copied.stdout), mode="r|") as tar:
        for member in tar:
            return tar.extractfile(member).read().decode()


def test_copy_out_a_directory_and_a_file(pc, box, tmp_path):
    assert pc("cp", f"{box}:/data", str(tmp_path)).returncode == 0
    assert (tmp_path / "data" / "sub" / "f").read_text() == "inside\n"
    assert os.readlink(tmp_path / "data" / "link") == "/etc/passwd"  # kept a link
    assert pc("cp", f"{box}:/data/sub/f", str(tmp_path / "renamed")).returncode == 0
    assert (tmp_path / "renamed").read_text() == "inside\n"
    assert pc("cp", f"{box}:/data/sub/.", str(tmp_path / "contents")).returncode == 0
    assert (tmp_path / "contents" / "f").read_text() == "inside\n"
    missing = pc("cp", f"{box}:/no/such", str(tmp_path / "x"))
    assert "no such file or directory" in one_error_line(missing, 1)
    assert not (tmp_path / "x").exists()


def test_copy_in_a_file_and_a_directory(pc, box, tmp_path):
    (tmp_path / "h.txt").write_text("from host\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "g").write_text("g\n")
    assert pc("cp", str(tmp_path / "h.txt"), f"{box}:/data/sub/").returncode == 0
    assert pc("cp", str(tmp_path / "h.txt"), f"{box}:/data/new.txt").returncode == 0
    assert pc("cp", str(tmp_path / "dir"), f"{box}:/data").returncode == 0
    assert read_in(pc, box, "/data/sub/h.txt") == "from host\n"
    assert read_in(pc, box, "/data/new.txt") == "from host\n"
    assert read_in(pc, box, "/data/dir/g") == "g\n"
    refused = pc("cp", str(tmp_path / "dir"), f"{box}:/data/new.txt")
    assert "cannot copy a directory to a file" in one_error_line(refused, 1)


def test_tar_streams_both_ways(pc, box):
    out = subprocess.run([_bin(), "cp", f"{box}:/data/sub", "-"], env=pc.env,
                         capture_output=True)
    assert out.returncode == 0, out.stderr
    with tarfile.open(fileobj=io.BytesIO(out.stdout), mode="r|") as tar:
        names = [m.name for m in tar]
    assert names == ["sub", "sub/f"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("streamed/x.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"xyz"))
    result = subprocess.run([_bin(), "cp", "-", f"{box}:/data"], input=buffer.getvalue(),
                            env=pc.env, capture_output=True)
    assert result.returncode == 0, result.stderr
    assert read_in(pc, box, "/data/streamed/x.txt") == "xyz"
    bad = tarfile.TarInfo("../../escape")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(bad, io.BytesIO(b""))
    result = subprocess.run([_bin(), "cp", "-", f"{box}:/data"], input=buffer.getvalue(),
                            env=pc.env, capture_output=True, text=False)
    assert result.returncode == 1 and b"invalid path" in result.stderr


def _bin():
    from conftest import PYCONTAIN
    return PYCONTAIN


@pytest.mark.parametrize("stopped", [False, True])
def test_cp_never_follows_a_symlink_out_of_the_root(pc, tmp_path, stopped):
    """The container makes /etc a symlink to / and /hostdir one to a host
    directory holding a secret: cp resolves both inside the container."""
    secret_dir = tmp_path / "hostdir"
    secret_dir.mkdir()
    (secret_dir / "secret").write_text("HOST SECRET\n")
    marker = f"pycontain-cp-escape-{uuid.uuid4().hex[:8]}"
    name = "evil"
    root = tmp_path / "rootfs"  # an image whose /etc is a symlink to /
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "sleep", "cat"):
        os.symlink("busybox", root / "bin" / applet)
    os.symlink("/", root / "etc")
    os.symlink(str(secret_dir), root / "hostdir")
    os.symlink("../../../../../..", root / "up")
    pc.out("import", str(root), "localhost/evil:1")
    pc.out("run", "-d", "--name", name, "localhost/evil:1", "sh", "-c", IDLE)
    try:
        if stopped:
            pc.out("stop", "-t", "0", name)
        (tmp_path / "payload").write_text("payload\n")
        assert pc("cp", str(tmp_path / "payload"), f"{name}:/etc/{marker}").returncode == 0
        assert not os.path.lexists(f"/etc/{marker}")  # not the host's /etc
        for path in ("/etc/os-release", "/hostdir/secret", "/up/etc/os-release",
                     f"/up/{secret_dir}/secret"):
            out = tmp_path / "out"
            result = pc("cp", f"{name}:{path}", str(out))
            assert result.returncode == 1, (path, result.stdout)
            assert not out.exists()
        streamed = pc("cp", f"{name}:/hostdir/secret", "-")
        assert streamed.returncode == 1 and "HOST SECRET" not in streamed.stdout
        assert pc("cp", f"{name}:/{marker}", str(tmp_path / "back")).returncode == 0
        assert (tmp_path / "back").read_text() == "payload\n"  # it went to the container's /
    finally:
        pc("rm", "-f", name)
        pc("rmi", "localhost/evil:1")
        if os.path.lexists(f"/etc/{marker}"):
            os.unlink(f"/etc/{marker}")


def test_archive_keeps_owners_and_plain_copies_drop_setuid(pc, box, tmp_path):
    src = tmp_path / "owned"
    src.write_text("o\n")
    os.chown(src, 4321, 765)
    assert pc("cp", "-a", str(src), f"{box}:/data/owned").returncode == 0
    assert pc("cp", str(src), f"{box}:/data/rootowned").returncode == 0
    back = tmp_path / "back"
    back.mkdir()
    assert pc("cp", "-a", f"{box}:/data/owned", str(back)).returncode == 0
    assert (os.stat(back / "owned").st_uid, os.stat(back / "owned").st_gid) == (4321, 765)
    assert pc("cp", "-a", f"{box}:/data/rootowned", str(back)).returncode == 0
    assert os.stat(back / "rootowned").st_uid == 0
    suid = tmp_path / "suid"
    suid.write_text("s\n")
    os.chmod(suid, 0o4755)
    assert pc("cp", "-a", str(suid), f"{box}:/data/suid").returncode == 0
    assert pc("cp", f"{box}:/data/suid", str(back / "plain")).returncode == 0
    assert os.stat(back / "plain").st_mode & 0o7777 == 0o755  # setuid dropped on the host


def test_cp_needs_one_container_side(pc, tmp_path):
    assert "CONTAINER:PATH" in one_error_line(pc("cp", str(tmp_path), str(tmp_path)), 1)
    assert "no such container" in one_error_line(pc("cp", "nosuch:/x", str(tmp_path)))
