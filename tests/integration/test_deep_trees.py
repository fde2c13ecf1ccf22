"""Trees deeper than Python's recursion limit (and than PATH_MAX) in a
container's upper dir, in the image store and in a function's code: rm, rmi,
image prune and fn delete remove them, leaving nothing behind.

These tests use a store of their own on a tmpfs: on this machine's ext4 a
directory level costs ~1 ms to make and remove (directory blocks go through
the journal), so 100,000 levels would take minutes there. The depth is
what is under test, not the file system. A deep tree that the store holds is
planted in it directly with directory fds (a tar member's name is bounded by
PATH_MAX, so a layer itself nests at most ~2,000 levels: that case goes
through `import` of a real tarball)."""
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
from conftest import Engine  # noqa: E402
from test_fstree import deep_tree  # noqa: E402

DEEP = 100_000


@pytest.fixture
def deep_pc(engine_env, tmp_path):
    """The engine on a store of its own, on a tmpfs, with busybox imported."""
    fs = tmp_path / "fs"
    fs.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "tmpfs", str(fs)], check=True)
    try:
        env = dict(engine_env, PYCONTAIN_ROOT=str(fs / "data"), PYCONTAIN_RUNROOT=str(fs / "run"))
        engine = Engine(env)
        layout = Path(engine_env["PYCONTAIN_ROOT"]).parent / "layouts" / "busybox"
        engine.out("import", f"oci:{layout}", "localhost/busybox:latest")
        yield engine
    finally:
        subprocess.run(["umount", "-l", str(fs)], check=True)  # whatever a failure left


def store_entries(pc) -> dict:
    return {d: sorted(os.listdir(pc.root / d)) for d in ("blobs/sha256", "layers")}


def test_rm_removes_a_container_with_a_100000_deep_upper_dir(deep_pc):
    pc = deep_pc
    pc.out("run", "--name", "deep", "busybox", "true")
    cid, = pc.containers()
    deep_tree(str(pc.root / "containers" / cid / "upper" / "d"), DEEP)
    result = pc("rm", "deep")
    assert result.returncode == 0, result.stderr[-2000:]
    assert pc.containers() == []
    assert not (pc.runroot / cid).exists()
    assert not os.path.lexists(pc.root / "names" / "deep")
    assert pc("system", "gc").stdout == ""


def test_rmi_removes_a_100000_deep_layer_directory(deep_pc):
    pc = deep_pc
    layers = os.listdir(pc.root / "layers")
    assert len(layers) == 1
    deep_tree(str(pc.root / "layers" / layers[0] / "d"), DEEP)  # as if the layer held it
    result = pc("rmi", "localhost/busybox:latest")
    assert result.returncode == 0, result.stderr[-2000:]
    assert store_entries(pc) == {"blobs/sha256": [], "layers": []}


def test_image_prune_removes_a_100000_deep_layer_directory(deep_pc):
    pc = deep_pc
    pc.out("rmi", "localhost/busybox:latest")
    # a layer directory that nothing uses (as an rmi that failed half-way left it)
    deep_tree(str(pc.root / "layers" / ("0" * 64)), DEEP)
    result = pc("image", "prune")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("Deleted 0 blobs and 1 layers")
    assert store_entries(pc) == {"blobs/sha256": [], "layers": []}


def test_a_layer_as_deep_as_tar_names_allow_is_imported_and_removed(deep_pc, tmp_path):
    pc = deep_pc
    tarball = tmp_path / "deep.tar"
    with tarfile.open(tarball, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("a/" * 2040 + "f")  # 4081 bytes: 2,040 levels
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    pc.out("import", str(tarball), "localhost/deep:1")
    assert len(os.listdir(pc.root / "layers")) == 2
    result = pc("rmi", "localhost/deep:1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(os.listdir(pc.root / "layers")) == 1
    assert not [n for d in ("blobs", "layers") for n in os.listdir(pc.root / d) if ".tmp-" in n]


def test_fn_delete_removes_a_function_whose_zip_nests_2000_deep(deep_pc, tmp_path):
    pc = deep_pc
    zip_path = tmp_path / "deep.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("main.py", "def handler(event, context):\n    return 1\n")
        for depth in range(1, 2001):  # a directory entry for every level, as zip tools write
            zf.writestr(zipfile.ZipInfo("a/" * depth), "")
        zf.writestr("a/" * 2000 + "deep.txt", "deep")
    result = pc("fn", "create", "deep", "--zip-file", str(zip_path), "--handler", "main.handler")
    assert result.returncode == 0, result.stderr[-2000:]
    result = pc("fn", "delete", "deep")
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.listdir(pc.root / "fn" / "functions") == []  # no deep.tmp-* either
