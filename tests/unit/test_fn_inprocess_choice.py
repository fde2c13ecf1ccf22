"""When `fn exec` may run the handler in pycontain's own interpreter
(inprocess_choice.serves): only when `python3` on the jail's PATH, in a one-layer
image, is that very interpreter file. Layers here are real directories."""
import os
import shutil
import sys

from pycontain.fn.inprocess_choice import serves

PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
EXE = os.path.realpath(sys.executable)


def layer_with_python(root) -> str:
    """A layer holding a copy of this interpreter (same size and mtime, as an
    image built from it has) at its path, with python3 -> it beside it."""
    layer = root / "layer"
    target = layer / EXE.lstrip("/")
    target.parent.mkdir(parents=True)
    shutil.copy2(EXE, target)
    (target.parent / "python3").symlink_to(os.path.basename(EXE))
    return str(layer)


def test_a_one_layer_image_with_this_interpreter_is_served(tmp_path):
    assert serves([layer_with_python(tmp_path)], PATH)


def test_a_python3_earlier_on_the_path_is_not_this_interpreter(tmp_path):
    layer = layer_with_python(tmp_path)
    other = tmp_path / "layer/usr/local/bin/python3"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"#!/bin/sh\n")
    assert not serves([layer], PATH)


def test_more_layers_a_relative_path_or_another_file_are_refused(tmp_path):
    layer = layer_with_python(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not serves([str(empty), layer], PATH)  # an upper layer could hide or replace it
    assert not serves([layer], ":/usr/bin")       # "" is /var/task, not the image
    copy = os.path.join(layer, EXE.lstrip("/"))
    os.utime(copy, (0, 0))                         # same path and size, another build
    assert not serves([layer], PATH)


def test_symlinks_are_followed_inside_the_layer_only(tmp_path):
    layer = layer_with_python(tmp_path)
    bin_dir = os.path.join(layer, os.path.dirname(EXE).lstrip("/"))
    os.remove(os.path.join(bin_dir, "python3"))
    os.symlink(f"../../../../../..{EXE}", os.path.join(bin_dir, "python3"))  # ".." stops at /
    assert serves([layer], PATH)
    os.remove(os.path.join(bin_dir, "python3"))
    os.symlink("/nonexistent/python3", os.path.join(bin_dir, "python3"))   # not the host's /
    assert not serves([layer], PATH)


def test_a_path_into_what_the_jail_mounts_is_not_judged_from_the_image(tmp_path):
    """/var/task is the function's code, /tmp a fresh tmpfs: a python3 there (or a
    link into there) is not the image's, whatever the layer holds."""
    layer = layer_with_python(tmp_path)
    assert not serves([layer], "/var/task:" + PATH)
    bin_dir = os.path.join(layer, os.path.dirname(EXE).lstrip("/"))
    os.remove(os.path.join(bin_dir, "python3"))
    os.symlink("/tmp/python3", os.path.join(bin_dir, "python3"))
    assert not serves([layer], PATH)
