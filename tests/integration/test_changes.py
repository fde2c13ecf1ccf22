"""A container's changes: diff (A/C/D), commit (then run the new image),
export, and the new image's history and inspect output."""
import io
import json
import os
import subprocess
import tarfile

from conftest import PYCONTAIN
from helpers import IDLE, one_error_line, wait_for

CHANGES = ("echo x > /new && rm /bin/ls && rm -rf /root && mkdir -p /root/fresh && "
           "echo y > /etc/motd && mkdir -p /opt/a/b && echo z > /opt/a/b/c && "
           "chown 1234:567 /new")


def test_diff_lists_added_changed_and_deleted(pc):
    pc("run", "--name", "d", "busybox", "sh", "-c", CHANGES)
    try:
        lines = pc.out("diff", "d").splitlines()
        assert lines == ["C /bin", "D /bin/ls", "C /etc", "A /etc/motd", "A /new", "A /opt",
                         "A /opt/a", "A /opt/a/b", "A /opt/a/b/c", "C /root", "A /root/fresh"]
    finally:
        pc("rm", "-f", "d")
    assert "no such container" in one_error_line(pc("diff", "d"))


def test_commit_then_run_the_new_image(pc):
    pc("run", "--name", "src", "busybox", "sh", "-c", CHANGES)
    try:
        image_id = pc.out("commit", "-m", "my change", "-a", "me", "src",
                          "localhost/committed:1").strip()
        assert image_id.startswith("sha256:") and len(image_id) == 71
        out = pc.out("run", "--rm", "localhost/committed:1", "sh", "-c",
                     "cat /new /opt/a/b/c; stat -c '%u:%g' /new; ls /bin/ls 2>&1; "
                     "ls -A /root; test -e /bin/sh && echo base-kept")
        assert out.splitlines() == ["x", "z", "1234:567", "ls: /bin/ls: No such file or directory",
                                    "fresh", "base-kept"]
        info = json.loads(pc.out("image", "inspect", "localhost/committed:1"))[0]
        assert info["Id"] == image_id and info["RepoTags"] == ["localhost/committed:1"]
        assert info["Author"] == "me" and len(info["RootFS"]["Layers"]) == 2
        rows = json.loads(pc.out("history", "--format", "json", "localhost/committed:1"))
        assert rows[0]["ID"] == image_id and rows[0]["Comment"] == "my change"
        assert rows[0]["CreatedBy"] == "pycontain commit src" and rows[0]["Size"] > 0
        assert rows[1]["ID"] == "<missing>"
        table = pc.out("history", "localhost/committed:1").splitlines()
        assert table[0].split()[:2] == ["IMAGE", "CREATED"] and image_id[7:19] in table[1]
    finally:
        pc("rm", "-f", "src")
        pc("rmi", "localhost/committed:1")


def test_commit_of_a_running_container_keeps_it_running(pc):
    pc.out("run", "-d", "--name", "live", "busybox", "sh", "-c", "echo hi > /hello; " + IDLE)
    try:
        wait_for(lambda: pc("exec", "live", "test", "-e", "/hello").returncode == 0,
                 what="the file")
        pc.out("commit", "live", "localhost/live:snap")
        assert json.loads(pc.out("inspect", "live"))[0]["State"]["Status"] == "running"
        assert pc.out("run", "--rm", "localhost/live:snap", "cat", "/hello") == "hi\n"
    finally:
        pc("rm", "-f", "live")
        pc("rmi", "localhost/live:snap")


def test_export_writes_the_whole_file_system(pc, tmp_path):
    pc("run", "--name", "ex", "busybox", "sh", "-c", CHANGES)
    try:
        target = tmp_path / "fs.tar"
        assert pc("export", "-o", str(target), "ex").returncode == 0
        with tarfile.open(target) as tar:
            names = set(tar.getnames())
            assert tar.extractfile("new").read() == b"x\n"
        assert {"new", "opt/a/b/c", "bin/sh", "etc/motd"} <= names
        assert "bin/ls" not in names
        streamed = subprocess.run([PYCONTAIN, "export", "ex"], env=pc.env, capture_output=True)
        assert streamed.returncode == 0, streamed.stderr
        with tarfile.open(fileobj=io.BytesIO(streamed.stdout)) as tar:
            assert set(tar.getnames()) == names
        assert not os.path.exists(str(target) + ".tmp")
    finally:
        pc("rm", "-f", "ex")
