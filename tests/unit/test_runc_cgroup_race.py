"""pycontain-runc's cgroup creation beside other runtimes: a level another
makes at the same time, or removes (empty, at its delete) under us. A plain
directory stands for the hierarchy's mount: the races are between mkdir(2)
calls, which the test interleaves by wrapping os.mkdir (real cgroup
directories cannot be made to race on cue)."""
import os
from types import SimpleNamespace

import pytest

from pycontain.errors import PycontainError
from pycontain.runc import cgroup


def _host(mount: str):
    return SimpleNamespace(version=1, controllers=(), mounts={"memory": mount})


def _interleaved(monkeypatch, before_first_mkdir):
    """os.mkdir, with before_first_mkdir() run once just before the first."""
    real, done = os.mkdir, []

    def mkdir(path, mode=0o777):
        if not done:
            done.append(path)
            before_first_mkdir()
        return real(path, mode)
    monkeypatch.setattr(os, "mkdir", mkdir)


def test_a_level_another_runtime_makes_meanwhile_is_theirs(tmp_path, monkeypatch):
    pod, leaf = tmp_path / "pod", tmp_path / "pod" / "ctr"
    _interleaved(monkeypatch, lambda: os.makedirs(pod))  # the other runtime wins the mkdir
    made = cgroup.create(_host(str(tmp_path)), {"memory": str(leaf)})
    assert made == [str(leaf)]  # delete must leave the other's level to it
    assert leaf.is_dir()


def test_a_level_removed_under_us_is_made_again(tmp_path, monkeypatch):
    pod, leaf = tmp_path / "pod", tmp_path / "pod" / "ctr"
    pod.mkdir()
    _interleaved(monkeypatch, pod.rmdir)  # its maker's delete: it was empty
    made = cgroup.create(_host(str(tmp_path)), {"memory": str(leaf)})
    assert made == [str(pod), str(leaf)]  # both ours now, removed at our delete
    assert leaf.is_dir()


def test_a_refusal_is_one_error_and_nothing_left(tmp_path, monkeypatch):
    leaf = tmp_path / "pod" / "ctr"

    def refuse(path, mode=0o777):
        if path == str(leaf):
            raise PermissionError(13, "Permission denied")
        return real(path, mode)
    real = os.mkdir
    monkeypatch.setattr(os, "mkdir", refuse)
    with pytest.raises(PycontainError, match="cannot create cgroup .*: Permission denied"):
        cgroup.create(_host(str(tmp_path)), {"memory": str(leaf)})
    assert not (tmp_path / "pod").exists()  # the level it made is removed again
