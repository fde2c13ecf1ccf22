"""Removing trees as root: immutable and append-only files, and mounts
inside the tree (never entered). Deep trees: tests/unit/test_fstree.py."""
import os
import subprocess

import pytest

from pycontain.errors import PycontainError
from pycontain.fsutil import remove_tree


def test_read_only_and_immutable_entries_are_removed(tmp_path):
    top = tmp_path / "t"
    (top / "a" / "b").mkdir(parents=True)
    (top / "a" / "b" / "f").write_text("f")
    (top / "a" / "g").write_text("g")
    os.chmod(top / "a" / "b", 0o500)
    os.chmod(top / "a", 0)
    chattr = subprocess.run(["chattr", "+i", str(top / "a" / "g")], capture_output=True)
    chattr_dir = subprocess.run(["chattr", "+a", str(top / "a" / "b")], capture_output=True)
    if os.geteuid() != 0 or chattr.returncode or chattr_dir.returncode:
        pytest.fail("needs root and a file system with immutable/append-only flags "
                    f"(chattr: {chattr.stderr!r} {chattr_dir.stderr!r})")
    remove_tree(str(top))
    assert not top.exists()


def test_a_mount_inside_the_tree_is_not_entered(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("needs root (it mounts a tmpfs)")
    top = tmp_path / "t"
    mnt = top / "a" / "mnt"
    mnt.mkdir(parents=True)
    (top / "a" / "other").write_text("x")
    (top / "b").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mnt)], check=True)
    try:
        (mnt / "precious").write_text("keep")
        with pytest.raises(PycontainError, match="mounted on 'mnt'"):
            remove_tree(str(top))
        assert (mnt / "precious").read_text() == "keep"
        assert sorted(os.listdir(top)) == ["a"] and os.listdir(top / "a") == ["mnt"]
        with pytest.raises(PycontainError, match="is a mount point"):
            remove_tree(str(mnt))
        assert (mnt / "precious").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    remove_tree(str(top))
    assert not top.exists()


def test_a_bind_mount_of_the_same_file_system_is_not_entered(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("needs root (it bind-mounts)")
    source = tmp_path / "source"
    source.mkdir()
    (source / "precious").write_text("keep")
    point = tmp_path / "t" / "bind"
    point.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(source), str(point)], check=True)
    try:
        with pytest.raises(PycontainError, match="mounted on 'bind'"):
            remove_tree(str(tmp_path / "t"))
        assert (source / "precious").read_text() == "keep"
    finally:
        subprocess.run(["umount", str(point)], check=True)
    remove_tree(str(tmp_path / "t"))
