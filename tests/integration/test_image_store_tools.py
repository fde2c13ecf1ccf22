"""The image store with OCI layouts made by umoci and skopeo (as root:
layers carry owners and whiteouts), and an overlay mount of an imported
image's layers."""
import json
import os
import shutil
import stat
import subprocess

import pytest

from pycontain.errors import PycontainError
from pycontain.image.store import ImageStore

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not (shutil.which("umoci") and shutil.which("skopeo")),
                       reason="needs umoci and skopeo"),
]
OPAQUE = "trusted.overlay.opaque"


def run(*argv, cwd=None):
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{argv}: {out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def umoci_layout(tmp_path_factory):
    """Layout 'app' (tag latest) with layers: files; whiteout of etc/hello;
    opaque /d with new content."""
    work = tmp_path_factory.mktemp("umoci")
    layout = str(work / "app")
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:latest")
    r1 = work / "r1"
    (r1 / "etc").mkdir(parents=True)
    (r1 / "d").mkdir()
    (r1 / "bin").mkdir()
    (r1 / "etc/hello").write_text("hello\n")
    (r1 / "etc/keep").write_text("keep\n")
    (r1 / "d/f").write_text("f\n")
    (r1 / "d/g").write_text("g\n")
    os.symlink("hello", r1 / "etc/link")
    os.link(r1 / "etc/keep", r1 / "etc/keep2")
    (r1 / "bin/su").write_bytes(b"\x7fELF")
    os.chown(r1 / "bin/su", 0, 0)
    os.chmod(r1 / "bin/su", 0o4755)
    (r1 / "home").mkdir()
    os.chown(r1 / "home", 1000, 1000)
    os.chmod(r1 / "home", 0o750)
    os.utime(r1 / "d/f", (1_234_567_890, 1_234_567_890))
    run("umoci", "insert", "--image", f"{layout}:latest", str(r1), "/")
    run("umoci", "insert", "--image", f"{layout}:latest", "--whiteout", "/etc/hello")
    r2 = work / "r2"
    r2.mkdir()
    (r2 / "new").write_text("new\n")
    run("umoci", "insert", "--image", f"{layout}:latest", "--opaque", str(r2), "/d")
    run("umoci", "config", "--image", f"{layout}:latest", "--config.cmd", "/bin/sh")
    return layout


@pytest.fixture
def store(tmp_path):
    return ImageStore(str(tmp_path / "store"))


def files_in(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
    return out


def no_temporaries(store):
    return not [n for _, dirs, files in os.walk(store.root) for n in dirs + files
                if ".tmp-" in n]


def test_import_umoci_layout(store, umoci_layout):
    image = store.import_oci_layout(umoci_layout)
    assert image.name == "localhost/app:latest"
    assert image.config["config"]["Cmd"] == ["/bin/sh"]
    assert len(image.layer_dirs) == 3
    files = image.layer_dirs[0]
    assert open(os.path.join(files, "etc/hello")).read() == "hello\n"
    assert os.readlink(os.path.join(files, "etc/link")) == "hello"
    assert (os.stat(os.path.join(files, "etc/keep")).st_ino
            == os.stat(os.path.join(files, "etc/keep2")).st_ino)
    st = os.stat(os.path.join(files, "bin/su"))
    assert stat.S_IMODE(st.st_mode) == 0o4755 and st.st_uid == 0
    st = os.stat(os.path.join(files, "home"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o750)
    assert os.stat(os.path.join(files, "d/f")).st_mtime == 1_234_567_890
    whiteout = os.lstat(os.path.join(image.layer_dirs[1], "etc/hello"))
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(os.path.join(image.layer_dirs[2], "d"), OPAQUE) == b"y"
    assert no_temporaries(store)

    hexid = image.id.partition(":")[2]
    for ref in ("app", "localhost/app", "localhost/app:latest", hexid[:12], image.id):
        assert store.resolve(ref).id == image.id
    with pytest.raises(PycontainError, match="image not known: app:v2"):
        store.resolve("app:v2")


def test_overlay_of_imported_layers(store, umoci_layout, tmp_path):
    image = store.import_oci_layout(umoci_layout)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    lower = ":".join(reversed(image.layer_dirs))  # overlay wants the top layer first
    script = (f"mount -t overlay overlay -o lowerdir={lower} {mnt} && "
              f"ls -A {mnt}/etc; echo ---; ls -A {mnt}/d; echo ---; cat {mnt}/d/new")
    out = run("unshare", "-m", "sh", "-c", script)
    etc, d, new = out.split("---\n")
    assert sorted(etc.split()) == ["keep", "keep2", "link"]
    assert d.split() == ["new"]
    assert new == "new\n"
    assert not os.path.ismount(mnt)


def test_import_twice_and_skopeo_copy_write_nothing_again(store, umoci_layout, tmp_path):
    first = store.import_oci_layout(umoci_layout)
    before = {p: v for p, v in files_in(store.root).items() if not p.startswith("images.json")}
    again = store.import_oci_layout(umoci_layout)
    copy = str(tmp_path / "copy")
    run("skopeo", "copy", f"oci:{umoci_layout}:latest", f"oci:{copy}:v2")
    copied = store.import_oci_layout(copy)
    after = {p: v for p, v in files_in(store.root).items() if not p.startswith("images.json")}
    assert after == before  # no blob or layer file written, replaced or touched
    assert again.id == copied.id == first.id
    assert copied.name == "localhost/copy:v2"
    (summary,) = store.list()
    assert summary.names == ["localhost/app:latest", "localhost/copy:v2"]
    assert store.tag("copy:v2", "registry.local:5000/team/app:1") == \
        "registry.local:5000/team/app:1"
    assert store.resolve("registry.local:5000/team/app:1").id == first.id
    assert store.remove("app") == ["localhost/app:latest"]
    assert store.resolve("copy:v2").id == first.id
    assert store.remove(first.id[7:19]) == ["localhost/copy:v2",
                                            "registry.local:5000/team/app:1"]
    assert store.list() == []


def test_corrupted_umoci_blob_fails_cleanly(store, umoci_layout, tmp_path):
    layout = str(tmp_path / "broken")
    shutil.copytree(umoci_layout, layout)
    blobs = os.path.join(layout, "blobs", "sha256")
    with open(os.path.join(layout, "index.json")) as f:
        manifest_digest = json.load(f)["manifests"][0]["digest"]
    with open(os.path.join(blobs, manifest_digest.partition(":")[2])) as f:
        layers = json.load(f)["layers"]
    victim = layers[-1]["digest"].partition(":")[2]  # the last layer: the others went well
    with open(os.path.join(blobs, victim), "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0x01
        f.seek(0)
        f.write(data)
    with pytest.raises(PycontainError, match=f"sha256:{victim}"):
        store.import_oci_layout(layout)
    assert os.listdir(store.blobs_dir) == []
    assert os.listdir(store.layers_dir) == []
    assert not os.path.exists(store.images_file)
    assert no_temporaries(store)


def test_zstd_layout(store, umoci_layout, tmp_path):
    layout = str(tmp_path / "zstd")
    run("skopeo", "copy", "--dest-compress-format", "zstd",
        f"oci:{umoci_layout}:latest", f"oci:{layout}:latest")
    try:
        import zstandard  # noqa: F401
    except ImportError:
        with pytest.raises(PycontainError, match="zstandard"):
            store.import_oci_layout(layout)
        assert os.listdir(store.layers_dir) == []
        assert not os.path.exists(store.images_file)
        assert no_temporaries(store)
        return
    image = store.import_oci_layout(layout)
    assert os.path.isfile(os.path.join(image.layer_dirs[0], "etc/keep"))
