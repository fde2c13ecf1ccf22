"""The image store with OCI layouts built here (no external tools).

umoci/skopeo-made layouts, whiteouts and overlay mounts are in
tests/integration/test_image_store_tools.py."""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from pycontain.errors import PycontainError
from pycontain.image.store import ImageStore

OCI = {"manifest": "application/vnd.oci.image.manifest.v1+json",
       "index": "application/vnd.oci.image.index.v1+json",
       "config": "application/vnd.oci.image.config.v1+json",
       "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
       "none": "application/vnd.oci.image.layer.v1.tar",
       "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
DOCKER = {"manifest": "application/vnd.docker.distribution.manifest.v2+json",
          "index": "application/vnd.docker.distribution.manifest.list.v2+json",
          "config": "application/vnd.docker.container.image.v1+json",
          "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip"}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tar_of(files: dict) -> bytes:
    """A tar with the given {name: bytes} files (dirs implied), fixed mtimes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_600_000_000, 0o644
            info.uid, info.gid = os.getuid(), os.getgid()
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Layout:
    """Writes an OCI image layout by hand, one image at a time."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        self.index = {"schemaVersion": 2, "manifests": []}
        self._save_index()

    def _save_index(self):
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump(self.index, f)

    def blob(self, data: bytes, media_type: str) -> dict:
        digest = digest_of(data)
        with open(self.blob_path(digest), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.path, "blobs", "sha256", digest.partition(":")[2])

    def manifest(self, layers, *, types=OCI, compress="gzip", arch="amd64", diff_ids=None,
                 created="2024-01-02T03:04:05Z", cmd=("/bin/sh",)) -> dict:
        descs = []
        for tar in layers:
            data = {"gzip": lambda b: gzip.compress(b, mtime=0), "none": lambda b: b,
                    "zstd": lambda b: b"\x28\xb5\x2f\xfd" + b"\0" * 16}[compress](tar)
            descs.append(self.blob(data, types[compress]))
        config = {"architecture": arch, "os": "linux", "created": created,
                  "config": {"Cmd": list(cmd)},
                  "rootfs": {"type": "layers",
                             "diff_ids": diff_ids or [digest_of(t) for t in layers]}}
        config_desc = self.blob(json.dumps(config).encode(), types["config"])
        manifest = {"schemaVersion": 2, "mediaType": types["manifest"],
                    "config": config_desc, "layers": descs}
        desc = self.blob(json.dumps(manifest).encode(), types["manifest"])
        desc["config"] = config_desc["digest"]
        desc["layers"] = [d["digest"] for d in descs]
        return desc

    def add(self, desc: dict, tag: str | None = "latest", platform=None) -> dict:
        entry = {k: desc[k] for k in ("mediaType", "digest", "size")}
        if tag:
            entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        if platform:
            entry["platform"] = platform
        self.index["manifests"].append(entry)
        self._save_index()
        return desc

    def image(self, layers, tag="latest", **kwargs) -> dict:
        return self.add(self.manifest(layers, **kwargs), tag)

    def nested(self, per_arch: dict, tag="latest", types=OCI) -> dict:
        entries = []
        for arch, desc in per_arch.items():
            entries.append({"mediaType": desc["mediaType"], "digest": desc["digest"],
                            "size": desc["size"],
                            "platform": {"os": "linux", "architecture": arch}})
        index = {"schemaVersion": 2, "mediaType": types["index"], "manifests": entries}
        return self.add(self.blob(json.dumps(index).encode(), types["index"]), tag)


def tree(root) -> dict:
    """Every path under root -> (inode, mtime_ns, size); symlinks not followed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def leftovers(store: ImageStore) -> list:
    found = []
    for dirpath, dirnames, filenames in os.walk(store.root):
        found += [os.path.join(dirpath, n) for n in dirnames + filenames if ".tmp-" in n]
    return found


@pytest.fixture
def store(tmp_path):
    return ImageStore(str(tmp_path / "store"))


@pytest.fixture
def simple(tmp_path):
    """Layout 'simple' with one two-layer image tagged latest."""
    layout = Layout(str(tmp_path / "simple"))
    info = layout.image([tar_of({"bin/sh": b"shell", "etc/os": b"v1"}),
                         tar_of({"etc/os": b"v2", "app/run": b"run"})])
    return layout, info


def test_import_and_resolve(store, simple):
    layout, info = simple
    image = store.import_oci_layout(layout.path)
    assert image.name == "localhost/simple:latest"
    assert image.id == info["config"]
    assert image.manifest_digest == info["digest"]
    assert image.config["config"]["Cmd"] == ["/bin/sh"]
    assert image.config["rootfs"]["diff_ids"] == [
        "sha256:" + os.path.basename(d) for d in image.layer_dirs]
    bottom, top = image.layer_dirs
    assert os.path.isabs(bottom)
    assert open(os.path.join(bottom, "etc/os"), "rb").read() == b"v1"
    assert open(os.path.join(top, "etc/os"), "rb").read() == b"v2"
    hexid = image.id[len("sha256:"):]
    for ref in ("simple", "simple:latest", "localhost/simple", "localhost/simple:latest",
                hexid, hexid[:12], hexid[:20], "sha256:" + hexid, "sha256:" + hexid[:12],
                f"localhost/simple@{info['digest']}", f"simple@{info['digest']}"):
        resolved = store.resolve(ref)
        assert resolved.id == image.id, ref
        assert resolved.layer_dirs == image.layer_dirs
        assert resolved.name == "localhost/simple:latest"
    for blob in [info["digest"], info["config"]] + info["layers"]:
        assert os.path.isfile(store.blob_path(blob))
    assert leftovers(store) == []
    assert oct(os.stat(store.images_file).st_mode & 0o777) == "0o600"
    assert oct(os.stat(store.root).st_mode & 0o777) == "0o700"


def test_unknown_and_invalid(store, simple):
    with pytest.raises(PycontainError) as info:
        store.resolve("busybox")  # empty store: no images.json yet
    assert str(info.value) == "image not known: busybox" and info.value.code == 125
    store.import_oci_layout(simple[0].path)
    for ref in ("busybox", "localhost/simple:v9", "docker.io/library/simple",
                "0123456789ab", "sha256:0123456789ab", "simple@sha256:" + "1" * 64):
        with pytest.raises(PycontainError, match="^image not known: "):
            store.resolve(ref)
    for ref in ("Bad/Name:", "simple:", "sha256:xyz"):
        with pytest.raises(PycontainError):
            store.resolve(ref)
    with pytest.raises(PycontainError, match="invalid reference format"):
        store.resolve("UPPER")
    assert not os.path.exists(os.path.join(store.root, "nothing"))


def test_short_name_order(store, tmp_path):
    layout = Layout(str(tmp_path / "l"))
    layout.image([tar_of({"which": b"local"})], tag="a")
    layout.image([tar_of({"which": b"hub"})], tag="b")
    local = store.import_oci_layout(layout.path, tag="a", name="localhost/foo:latest")
    hub = store.import_oci_layout(layout.path, tag="b", name="docker.io/library/foo:latest")
    assert hub.name == "docker.io/library/foo:latest"
    assert store.resolve("foo").id == hub.id                       # docker.io first
    assert store.resolve("foo").name == "docker.io/library/foo:latest"
    assert store.resolve("docker.io/library/foo").id == hub.id     # qualified: exact
    assert store.resolve("docker.io/foo:latest").id == hub.id
    assert store.resolve("localhost/foo").id == local.id
    store.remove("foo")
    assert store.resolve("foo").id == local.id                     # then localhost


def test_list_tag_remove(store, simple, tmp_path):
    layout, info = simple
    image = store.import_oci_layout(layout.path)
    other = Layout(str(tmp_path / "other"))
    other.image([tar_of({"x": b"x"})], created="2025-01-01T00:00:00Z")
    second = store.import_oci_layout(other.path)

    summaries = store.list()
    assert [s.id for s in summaries] == [second.id, image.id]  # newest first
    assert summaries[1].names == ["localhost/simple:latest"]
    assert summaries[1].created == "2024-01-02T03:04:05Z"
    assert summaries[1].size == sum(len(t) for t in (
        tar_of({"bin/sh": b"shell", "etc/os": b"v1"}), tar_of({"etc/os": b"v2", "app/run": b"run"})))

    assert store.tag("simple", "myimg:v1") == "docker.io/library/myimg:v1"
    assert store.tag(image.id[7:19], "localhost/again") == "localhost/again:latest"
    assert store.resolve("myimg:v1").id == image.id
    assert store.list()[1].names == ["docker.io/library/myimg:v1", "localhost/again:latest",
                                     "localhost/simple:latest"]
    with pytest.raises(PycontainError, match="digest"):
        store.tag("simple", "x@sha256:" + "a" * 64)
    with pytest.raises(PycontainError, match="image not known"):
        store.tag("nope", "x")

    assert store.remove("myimg:v1") == ["docker.io/library/myimg:v1"]
    with pytest.raises(PycontainError, match="image not known"):
        store.resolve("myimg:v1")
    assert store.resolve("simple").id == image.id
    assert store.remove(image.id) == ["localhost/again:latest", "localhost/simple:latest"]
    with pytest.raises(PycontainError, match="image not known"):
        store.resolve("simple")
    assert [s.id for s in store.list()] == [second.id]
    with pytest.raises(PycontainError, match="image not known"):
        store.remove("simple")
    # remove only untags: the content stays for a later garbage collection
    assert all(os.path.isdir(d) for d in image.layer_dirs)
    assert os.path.isfile(store.blob_path(info["config"]))


def test_remove_by_digest_reference(store, simple):
    layout, info = simple
    store.import_oci_layout(layout.path)
    store.tag("simple", "localhost/simple:v2")
    assert store.remove(f"localhost/simple@{info['digest']}") == [
        "localhost/simple:latest", "localhost/simple:v2"]
    assert store.list() == []


def test_import_twice_writes_nothing_again(store, simple):
    layout, _ = simple
    store.import_oci_layout(layout.path)
    before = {p: v for p, v in tree(store.root).items() if not p.startswith("images.json")}
    image = store.import_oci_layout(layout.path, name="localhost/second")
    after = {p: v for p, v in tree(store.root).items() if not p.startswith("images.json")}
    assert after == before
    assert sorted(store.list()[0].names) == ["localhost/second:latest", "localhost/simple:latest"]
    assert store.resolve("localhost/second").layer_dirs == image.layer_dirs


def test_shared_layer_unpacked_once(store, tmp_path):
    base = tar_of({"bin/sh": b"shell"})
    a, b = Layout(str(tmp_path / "a")), Layout(str(tmp_path / "b"))
    a.image([base, tar_of({"a": b"a"})])
    b.image([base, tar_of({"b": b"b"})], compress="none")  # same diff_id, other blob
    first = store.import_oci_layout(a.path)
    shared = first.layer_dirs[0]
    st = os.stat(os.path.join(shared, "bin/sh"))
    second = store.import_oci_layout(b.path)
    assert second.layer_dirs[0] == shared
    assert os.stat(os.path.join(shared, "bin/sh")).st_ino == st.st_ino
    assert os.stat(os.path.join(shared, "bin/sh")).st_mtime_ns == st.st_mtime_ns
    assert sorted(os.listdir(store.layers_dir)) == sorted(
        os.path.basename(d) for d in first.layer_dirs + second.layer_dirs[1:])
    assert store.list()[0].size == len(base) + len(tar_of({"b": b"b"}))


def flip_byte(path, offset=None):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        i = len(data) // 2 if offset is None else offset
        data[i] ^= 0xFF
        f.seek(0)
        f.write(data)


def assert_store_unchanged(store, before_images):
    assert leftovers(store) == []
    if before_images is None:
        assert os.listdir(store.blobs_dir) == []
        assert os.listdir(store.layers_dir) == []
        assert not os.path.exists(store.images_file)
    else:
        with open(store.images_file, "rb") as f:
            assert f.read() == before_images


@pytest.mark.parametrize("which", ["first-layer", "second-layer", "config", "manifest"])
def test_corrupted_blob_fails_cleanly(store, simple, which):
    layout, info = simple
    digest = {"first-layer": info["layers"][0], "second-layer": info["layers"][1],
              "config": info["config"], "manifest": info["digest"]}[which]
    flip_byte(layout.blob_path(digest))
    with pytest.raises(PycontainError) as exc:
        store.import_oci_layout(layout.path)
    assert digest in str(exc.value)
    assert "\n" not in str(exc.value)
    if which in ("config", "manifest"):
        assert not os.path.exists(store.root)  # refused before the store was touched
    else:
        assert_store_unchanged(store, None)


def test_corrupted_blob_keeps_existing_store(store, simple, tmp_path):
    store.import_oci_layout(simple[0].path)
    with open(store.images_file, "rb") as f:
        images = f.read()
    layout = Layout(str(tmp_path / "bad"))
    info = layout.image([tar_of({"new": b"1" * 1000}), tar_of({"new2": b"2" * 1000})])
    flip_byte(layout.blob_path(info["layers"][1]), offset=20)
    blobs_before = sorted(os.listdir(store.blobs_dir))
    layers_before = sorted(os.listdir(store.layers_dir))
    with pytest.raises(PycontainError, match="does not match its digest"):
        store.import_oci_layout(layout.path)
    assert_store_unchanged(store, images)
    assert sorted(os.listdir(store.blobs_dir)) == blobs_before
    assert sorted(os.listdir(store.layers_dir)) == layers_before


def test_wrong_size_and_missing_blob(store, tmp_path):
    layout = Layout(str(tmp_path / "l"))
    info = layout.image([tar_of({"a": b"a"})])
    with open(layout.blob_path(info["layers"][0]), "ab") as f:
        f.write(b"extra")
    with pytest.raises(PycontainError, match="size does not match"):
        store.import_oci_layout(layout.path)
    assert_store_unchanged(store, None)
    os.unlink(layout.blob_path(info["layers"][0]))
    with pytest.raises(PycontainError, match="is missing"):
        store.import_oci_layout(layout.path)
    assert_store_unchanged(store, None)


def test_diff_id_mismatch_fails_cleanly(store, tmp_path):
    layout = Layout(str(tmp_path / "l"))
    layout.image([tar_of({"a": b"a"}), tar_of({"b": b"b"})],
                 diff_ids=[digest_of(tar_of({"a": b"a"})), "sha256:" + "0" * 64])
    with pytest.raises(PycontainError, match="does not match its diff_id"):
        store.import_oci_layout(layout.path)
    assert_store_unchanged(store, None)


def test_layer_count_mismatch(store, tmp_path):
    layout = Layout(str(tmp_path / "l"))
    layout.image([tar_of({"a": b"a"})], diff_ids=["sha256:" + "1" * 64] * 2)
    with pytest.raises(PycontainError, match="1 layers but the config lists 2"):
        store.import_oci_layout(layout.path)


def test_hostile_layer_fails_cleanly(store, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("evil")
        link.type, link.linkname = tarfile.SYMTYPE, str(tmp_path)
        tar.addfile(link)
        info = tarfile.TarInfo("evil/pwned")
        tar.addfile(info, io.BytesIO(b""))
    layout = Layout(str(tmp_path / "l"))
    layout.image([tar_of({"ok": b"ok"}), buf.getvalue()])
    with pytest.raises(PycontainError, match="symlink 'evil'"):
        store.import_oci_layout(layout.path)
    assert not os.path.exists(tmp_path / "pwned")
    assert_store_unchanged(store, None)


def test_tag_selection(store, tmp_path):
    layout = Layout(str(tmp_path / "multi"))
    latest = layout.image([tar_of({"v": b"latest"})], tag="latest")
    v1 = layout.image([tar_of({"v": b"v1"})], tag="v1")
    assert store.import_oci_layout(layout.path).id == latest["config"]
    image = store.import_oci_layout(layout.path, tag="v1")
    assert (image.id, image.name) == (v1["config"], "localhost/multi:v1")
    image = store.import_oci_layout(layout.path, tag="v1", name="mine")
    assert image.name == "docker.io/library/mine:v1"  # a name without tag takes the image's
    image = store.import_oci_layout(layout.path, tag="v1", name="localhost/x:y")
    assert image.name == "localhost/x:y"
    with pytest.raises(PycontainError, match=r"no image tagged 'v2' .*tags: latest, v1"):
        store.import_oci_layout(layout.path, tag="v2")
    with pytest.raises(PycontainError, match="cannot be named by a digest"):
        store.import_oci_layout(layout.path, name="x@sha256:" + "a" * 64)

    only_tags = Layout(str(tmp_path / "notlatest"))
    only_tags.image([tar_of({"v": b"1"})], tag="1")
    only_tags.image([tar_of({"v": b"2"})], tag="2")
    with pytest.raises(PycontainError, match="none is tagged 'latest'"):
        store.import_oci_layout(only_tags.path)


def test_untagged_single_image_and_directory_name(store, tmp_path):
    layout = Layout(str(tmp_path / "My_Image"))
    layout.image([tar_of({"a": b"a"})], tag=None)
    assert store.import_oci_layout(layout.path).name == "localhost/my_image:latest"


def test_full_reference_annotation(store, tmp_path):
    layout = Layout(str(tmp_path / "ctr"))
    layout.image([tar_of({"a": b"a"})], tag="docker.io/library/busybox:1.36")
    image = store.import_oci_layout(layout.path, tag="1.36")
    assert image.name == "localhost/ctr:1.36"


def test_docker_schema2_media_types(store, tmp_path):
    layout = Layout(str(tmp_path / "docker"))
    info = layout.image([tar_of({"a": b"a"}), tar_of({"b": b"b"})], types=DOCKER)
    image = store.import_oci_layout(layout.path)
    assert image.manifest_digest == info["digest"]
    assert os.path.isfile(os.path.join(image.layer_dirs[1], "b"))


@pytest.mark.parametrize("types", [OCI, DOCKER], ids=["oci-index", "docker-list"])
def test_nested_index_picks_linux_amd64(store, tmp_path, types):
    layout = Layout(str(tmp_path / "multiarch"))
    arm = layout.manifest([tar_of({"arch": b"arm64"})], arch="arm64", types=types)
    amd = layout.manifest([tar_of({"arch": b"amd64"})], arch="amd64", types=types)
    layout.nested({"arm64": arm, "amd64": amd}, types=types)
    image = store.import_oci_layout(layout.path)
    assert image.manifest_digest == amd["digest"]
    assert image.config["architecture"] == "amd64"
    assert open(os.path.join(image.layer_dirs[0], "arch"), "rb").read() == b"amd64"


def test_nested_index_without_amd64(store, tmp_path):
    layout = Layout(str(tmp_path / "armonly"))
    arm = layout.manifest([tar_of({"arch": b"arm64"})], arch="arm64")
    layout.nested({"arm64": arm})
    with pytest.raises(PycontainError, match="no image for linux/amd64.*linux/arm64"):
        store.import_oci_layout(layout.path)


def test_uncompressed_layers(store, tmp_path):
    layout = Layout(str(tmp_path / "plain"))
    layout.image([tar_of({"a": b"plain"})], compress="none")
    image = store.import_oci_layout(layout.path)
    assert open(os.path.join(image.layer_dirs[0], "a"), "rb").read() == b"plain"


def test_zstd_layer_without_module(store, tmp_path, monkeypatch):
    # zstandard is a dependency; this is the error a broken install would give
    monkeypatch.setitem(sys.modules, "zstandard", None)  # makes `import zstandard` fail
    layout = Layout(str(tmp_path / "z"))
    layout.image([tar_of({"a": b"a"})], compress="zstd")
    with pytest.raises(PycontainError, match="zstd-compressed.*'zstandard'"):
        store.import_oci_layout(layout.path)
    assert_store_unchanged(store, None)


def test_not_a_layout(store, tmp_path):
    with pytest.raises(PycontainError, match="no such directory"):
        store.import_oci_layout(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PycontainError, match="not an OCI layout"):
        store.import_oci_layout(str(tmp_path / "empty"))
    layout = Layout(str(tmp_path / "noimages"))
    with pytest.raises(PycontainError, match="lists no images"):
        store.import_oci_layout(layout.path)
    with open(os.path.join(layout.path, "index.json"), "w") as f:
        f.write("{not json")
    with pytest.raises(PycontainError, match="not valid JSON"):
        store.import_oci_layout(layout.path)
    with open(os.path.join(layout.path, "index.json"), "w") as f:
        json.dump({"manifests": [{"digest": "sha256:../../etc/passwd", "size": 1}]}, f)
    with pytest.raises(PycontainError, match="malformed"):
        store.import_oci_layout(layout.path)
    assert not os.path.exists(store.root)


def test_stale_temporaries_removed_by_next_writer(store, simple):
    store.import_oci_layout(simple[0].path)
    stale = [os.path.join(store.blobs_dir, "ab" * 32 + ".tmp-0badc0de"),
             os.path.join(store.layers_dir, "cd" * 32 + ".tmp-0badc0de"),
             store.images_file + ".tmp-0badc0de"]
    open(stale[0], "w").close()
    os.makedirs(os.path.join(stale[1], "ro"))
    os.chmod(os.path.join(stale[1], "ro"), 0o500)
    open(stale[2], "w").close()
    not_ours = os.path.join(store.root, "containers.json.tmp-0badc0de")
    open(not_ours, "w").close()
    store.tag("simple", "localhost/t")
    assert leftovers(store) == [not_ours]


def test_resolve_is_lean(store, simple):
    image = store.import_oci_layout(simple[0].path)
    code = (f"import sys; sys.path.insert(0, {REPO!r}); "
            "from pycontain.image.store import ImageStore; "
            f"image = ImageStore({store.root!r}).resolve('simple'); "
            "heavy = [m for m in ('tarfile', 'hashlib', 'gzip', 'zlib', 'shutil', 'fcntl', "
            "'dataclasses', 'pycontain.image.unpack') if m in sys.modules]; "
            "print(image.id, heavy)")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(None, 1) == [image.id, "[]\n"]


def test_concurrent_imports(store, simple, tmp_path):
    code = ("import sys; from pycontain.image.store import ImageStore; "
            "ImageStore(sys.argv[1]).import_oci_layout(sys.argv[2], name=sys.argv[3])")
    procs = [subprocess.Popen([sys.executable, "-c", code, store.root, simple[0].path,
                               f"localhost/c{i}"], cwd=REPO, env={"PYTHONPATH": REPO},
                              stderr=subprocess.PIPE)
             for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    (summary,) = store.list()
    assert summary.names == [f"localhost/c{i}:latest" for i in range(4)]
    assert len(os.listdir(store.layers_dir)) == 2
    assert leftovers(store) == []
    shutil.rmtree(store.root)


def test_ambiguous_id_prefix(store, simple):
    store.import_oci_layout(simple[0].path)
    with open(store.images_file) as f:
        data = json.load(f)
    record = dict(next(iter(data["images"].values())))
    real = record["config_digest"]
    twin = real[:7 + 12] + ("0" if real[-1] != "0" else "1") * 52
    data["images"]["localhost/twin:latest"] = dict(record, config_digest=twin)
    with open(store.images_file, "w") as f:
        json.dump(data, f)
    with pytest.raises(PycontainError, match="ambiguous"):
        store.resolve(real[7:19])
    assert store.resolve(real[7:20] if twin[19] != real[19] else real).id == real
    assert store.exists("simple") and not store.exists("nothing")


def test_unreadable_images_json(store, simple):
    store.import_oci_layout(simple[0].path)
    with open(store.images_file, "w") as f:
        f.write("{broken")
    with pytest.raises(PycontainError, match="unreadable"):
        store.resolve("simple")
