"""rootfs/build.py: the bundled busybox and python images as real OCI image layouts."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parents[2] / "rootfs" / "build.py"
CMDS = {"busybox": ["sh"], "python": ["python3"]}

pytestmark = pytest.mark.skipif(
    not (os.path.isfile("/bin/busybox") and os.path.isfile("/usr/bin/python3.11")),
    reason="needs Debian's busybox-static and python3.11",
)


def build(outdir: Path, *images: str) -> subprocess.CompletedProcess:
    """Run build.py into OUTDIR."""
    return subprocess.run([sys.executable, str(BUILD), str(outdir), *images],
                          capture_output=True, text=True, timeout=120)


def read_blob(layout: Path, descriptor: dict) -> bytes:
    """A blob's bytes, after checking them against the descriptor's digest and size."""
    algorithm, hexdigest = descriptor["digest"].split(":")
    assert algorithm == "sha256"
    data = (layout / "blobs" / "sha256" / hexdigest).read_bytes()
    assert hashlib.sha256(data).hexdigest() == hexdigest
    assert len(data) == descriptor["size"]
    return data


def load_image(layout: Path) -> tuple[dict, dict, bytes]:
    """Follow index.json -> manifest -> config and layer; return (manifest, config, tar)."""
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    assert index["schemaVersion"] == 2
    [entry] = index["manifests"]
    assert entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert entry["annotations"] == {"org.opencontainers.image.ref.name": "latest"}
    manifest = json.loads(read_blob(layout, entry))
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == entry["mediaType"]
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    config = json.loads(read_blob(layout, manifest["config"]))
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    tar = gzip.decompress(read_blob(layout, layer))
    return manifest, config, tar


@pytest.fixture(scope="module")
def outdir(tmp_path_factory) -> Path:
    """Both images, built once for the module."""
    out = tmp_path_factory.mktemp("images")
    result = build(out)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    return out


@pytest.fixture(scope="module")
def layers(outdir) -> dict[str, tarfile.TarFile]:
    """Image name -> its single layer, opened."""
    return {name: tarfile.open(fileobj=io.BytesIO(load_image(outdir / name)[2])) for name in CMDS}


@pytest.fixture(scope="module")
def members(layers) -> dict[str, dict[str, tarfile.TarInfo]]:
    """Image name -> {path: TarInfo} of its layer."""
    return {name: {m.name: m for m in layer.getmembers()} for name, layer in layers.items()}


@pytest.mark.parametrize("image", CMDS)
def test_layout_config_and_diff_id(outdir, image):
    _, config, tar = load_image(outdir / image)
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    assert config["config"]["Cmd"] == CMDS[image]
    assert config["config"]["WorkingDir"] == "/"
    assert config["config"]["Env"][0].startswith("PATH=/usr/local/sbin:")
    assert config["rootfs"] == {"type": "layers",
                                "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}


@pytest.mark.parametrize("image", CMDS)
def test_layer_sorted_root_owned_with_accounts(layers, members, image):
    names = list(members[image])
    assert names == sorted(names)
    assert {(m.uid, m.gid) for m in members[image].values()} <= {(0, 0), (1000, 1000)}
    assert members[image]["tmp"].mode == 0o1777
    passwd = layers[image].extractfile("etc/passwd").read().decode()
    assert "root:x:0:0:root:/root:/bin/sh\n" in passwd
    assert "app:x:1000:1000:app:/home/app:/bin/sh\n" in passwd
    assert members[image]["home/app"].isdir()


def test_busybox_layer(members):
    layer = members["busybox"]
    assert layer["bin/busybox"].isfile() and layer["bin/busybox"].mode == 0o755
    assert layer["bin/sh"].issym() and layer["bin/sh"].linkname == "/bin/busybox"


def test_python_layer(members):
    layer = members["python"]
    for path in ("usr/bin/python3.11", "usr/lib/python3.11/os.py",
                 "usr/lib/python3.11/encodings/__init__.py",
                 "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                 "usr/lib/x86_64-linux-gnu/libc.so.6"):
        assert layer[path].isfile(), path
    assert layer["usr/bin/python3"].linkname == "python3.11"
    assert layer["lib64"].linkname == "usr/lib64"
    assert layer["usr/lib64/ld-linux-x86-64.so.2"].issym()
    assert not any("/test/" in name or "/tests/" in name for name in layer)


def test_rebuild_is_byte_identical(outdir, tmp_path):
    again = tmp_path / "again"
    assert build(again).returncode == 0
    files = sorted(p.relative_to(outdir) for p in outdir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for path in files:
        assert (outdir / path).read_bytes() == (again / path).read_bytes(), path


def test_failure_is_one_line_and_leaves_nothing(tmp_path):
    (tmp_path / "busybox").mkdir()
    (tmp_path / "busybox" / "keep").write_text("not a layout")
    result = build(tmp_path, "busybox")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "refusing to replace" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busybox"]
    assert build(tmp_path, "nonesuch").returncode == 1
