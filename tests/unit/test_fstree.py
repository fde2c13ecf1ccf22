"""Removing and walking trees of any depth (pycontain.fstree, fsutil.remove_tree).

Deep trees are made on tmpfs (/dev/shm): on this machine's ext4 each level
costs ~0.4 ms of mkdir and ~0.8 ms of rmdir (directory blocks go through the
journal), so 100,000 levels would take minutes there; on tmpfs, seconds.
Mounts and immutable files: tests/integration/test_fstree_root.py."""
import os
import tempfile

import pytest

from pycontain import fstree
from pycontain.fsutil import remove_tree

DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def deep_tree(top: str, depth: int, name: str = "d", leaf: bytes = b"x") -> None:
    """top/d/d/.../d (depth levels) with a file at the bottom, made with dir
    fds: the path is far longer than PATH_MAX."""
    os.mkdir(top)
    fd = os.open(top, DIR)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            sub = os.open(name, DIR, dir_fd=fd)
            os.close(fd)
            fd = sub
        leaf_fd = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
        os.write(leaf_fd, leaf)
        os.close(leaf_fd)
        os.symlink("/", "to-root", dir_fd=fd)
    finally:
        os.close(fd)


@pytest.fixture
def tmp_path():
    """A directory on tmpfs (see the module docstring)."""
    import pathlib
    path = tempfile.mkdtemp(prefix="pycontain-fstree-", dir="/dev/shm")
    yield pathlib.Path(path)
    remove_tree(path)


def test_remove_tree_of_100000_levels(tmp_path):
    top = str(tmp_path / "deep")
    deep_tree(top, 100_000)
    outside = tmp_path / "outside"
    outside.write_text("keep")
    remove_tree(top)
    assert not os.path.lexists(top)
    assert outside.read_text() == "keep"  # the symlink at the bottom was not followed


def test_tree_size_deeper_than_the_recursion_limit_and_path_max(tmp_path):
    top = str(tmp_path / "deep")
    deep_tree(top, 5000, leaf=b"12345")
    assert fstree.tree_size(top) == 5 + len("/")  # the leaf and the symlink
    remove_tree(top)


def test_wide_and_deep_tree_with_files_everywhere(tmp_path):
    top = tmp_path / "t"
    for i in range(30):
        d = top.joinpath(*[f"{i}-{j}" for j in range(i)])
        d.mkdir(parents=True, exist_ok=True)
        (d / "f").write_text("f")
        os.symlink("f", d / "l")
        os.mkfifo(d / "p")
    remove_tree(str(top))
    assert not top.exists()


def _remove_with(top: str, other) -> int:
    """Walk top removing everything; at the first directory, call other()
    (someone else changing the tree). Returns how many were gone already."""
    fd = os.open(top, DIR)
    gone, done = 0, False
    try:
        for dir_fd, name, kind in fstree.walk(fd):
            if kind == fstree.DIR and not done:
                other()
                done = True
            try:
                (os.unlink if kind == fstree.FILE else os.rmdir)(name, dir_fd=dir_fd)
            except FileNotFoundError:
                gone += 1
    finally:
        os.close(fd)
    return gone


def test_another_remover_taking_part_of_the_tree_is_fine(tmp_path):
    top = str(tmp_path / "t")
    deep_tree(top, 50)
    gone = _remove_with(top, lambda: remove_tree(os.path.join(top, *["d"] * 20)))
    assert gone and os.listdir(top) == []


def test_a_directory_moved_away_during_the_walk_is_left_there(tmp_path):
    """The walk climbs with '..'; when that is no longer the directory it came
    down from, it walks down again by name from the top and skips what moved."""
    top = str(tmp_path / "t")
    deep_tree(top, 50)
    moved = str(tmp_path / "moved")
    _remove_with(top, lambda: os.rename(os.path.join(top, *["d"] * 20), moved))
    assert os.listdir(top) == []
    assert os.listdir(moved) == []  # emptied from within, but not removed: it left the tree
