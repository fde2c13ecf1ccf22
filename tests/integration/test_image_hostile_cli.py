"""Hostile images through the CLI: `load` and `import` refuse them with exit
code 125 and one line, leave no temporaries, and do not change what the
store maps a layer to (the unit tests test_image_hostile_*.py cover each
case in detail, and the limits with lowered values)."""
import gzip
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
from test_image_hostile_store import docker_archive, entry  # noqa: E402
from test_image_hostile_tars import long_header, sparse_tar  # noqa: E402
from test_image_store import digest_of, tar_of  # noqa: E402
from test_image_unpack import GOOD_FIRST, make_tar  # noqa: E402
from test_image_unpack import entry as member  # noqa: E402

from registry.checks import no_temporaries  # noqa: E402


def refused(pc, args, words) -> str:
    before = pc.out("images", "--format", "json")
    result = pc(*args)
    assert result.returncode == 125, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pycontain: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert pc.out("images", "--format", "json") == before and no_temporaries(pc)
    return lines[0]


def layer_archive(path, layer: bytes, **config) -> str:
    """A docker archive of one image with the given layer and config keys."""
    base = {"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [digest_of(layer)]}, **config}
    return docker_archive(path, entry(RepoTags=["localhost/hostile:1"], Layers=["l.tar"]),
                          base, {"l.tar": layer})


def layers_map(pc) -> dict:
    return json.loads((pc.root / "images.json").read_text())["layers"]


def test_blob_cannot_take_a_stored_layer(pc, tmp_path):
    good, evil = tar_of({"bin/x": b"good"}), tar_of({"bin/x": b"evil"})
    pc.out("load", "-i", layer_archive(tmp_path / "victim.tar", good))
    try:
        before = layers_map(pc)
        evil_archive = docker_archive(
            tmp_path / "evil.tar", entry(RepoTags=["localhost/evil:1"], Layers=["l.tar"]),
            {"architecture": "amd64", "os": "linux",
             "rootfs": {"type": "layers", "diff_ids": [digest_of(good)]}}, {"l.tar": evil})
        refused(pc, ["load", "-i", evil_archive], ["does not match its diff_id"])
        assert layers_map(pc) == before
        assert before[digest_of(good)]["blob"] == digest_of(good)
    finally:
        pc.out("rmi", "localhost/hostile:1")


@pytest.mark.parametrize("fmt", ["pax0.1", "gnu"])
def test_import_refuses_sparse_tarball(pc, tmp_path, fmt):
    path = tmp_path / "rootfs.tar.gz"
    path.write_bytes(gzip.compress(sparse_tar(fmt)))
    refused(pc, ["import", path, "localhost/sparse:1"], ["sparse files are not supported"])


BAD_LAYERS = {
    "long-header": (make_tar(GOOD_FIRST)[:1024] + long_header(), "extended header of"),
    "sparse": (sparse_tar("pax1.0"), "sparse files are not supported"),
    "mtime-nan-dir": (make_tar(member("d", kind="dir", pax={"mtime": "nan"})),
                      "mtime nan out of range"),
    "uid-negative-symlink": (make_tar(member("s", kind="sym", link="x", pax={"uid": "-7"})),
                             "uid -7 out of range"),
    "xattr-nul-dir": (make_tar(member("d", kind="dir", pax={"SCHILY.xattr.user.a\0b": "v"})),
                      "contains a NUL byte"),
}


@pytest.mark.parametrize("layer, why", list(BAD_LAYERS.values()), ids=list(BAD_LAYERS))
def test_load_refuses_hostile_layer(pc, tmp_path, layer, why):
    path = layer_archive(tmp_path / "a.tar", layer)
    refused(pc, ["load", "-i", path], [why])


BAD_ARCHIVES = {
    "tags-string": (entry(RepoTags="abc"), "RepoTags is not a list of strings"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
}


@pytest.mark.parametrize("manifest, why", list(BAD_ARCHIVES.values()), ids=list(BAD_ARCHIVES))
def test_load_refuses_malformed_manifest(pc, tmp_path, manifest, why):
    refused(pc, ["load", "-i", docker_archive(tmp_path / "a.tar", manifest)], [why])


@pytest.mark.parametrize("config, why", [({"config": ["x"]}, "config is not an object"),
                                         ({"config": {"Labels": ["a"]}}, "config.Labels"),
                                         ({"history": [1]}, "history is not a list")])
def test_load_refuses_malformed_config(pc, tmp_path, config, why):
    refused(pc, ["load", "-i", layer_archive(tmp_path / "a.tar", tar_of({"f": b"x"}), **config)],
            ["malformed image config", why])
