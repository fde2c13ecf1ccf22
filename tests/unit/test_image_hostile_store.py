"""Hostile images at import: a blob claiming a layer already in the store,
docker archives with a malformed manifest.json, and image configs of the
wrong shape are refused with one line, the store left as it was."""
import gzip
import io
import json
import os
import tarfile

import pytest

from pycontain.errors import PycontainError
from pycontain.image.archive_load import load_archive
from pycontain.image.store import ImageStore
from test_image_store import OCI, Layout, digest_of, leftovers, tar_of


@pytest.fixture
def store(tmp_path):
    return ImageStore(str(tmp_path / "store"))


def layers_map(store) -> dict:
    with open(store.images_file) as f:
        return {d: v["blob"] for d, v in json.load(f)["layers"].items()}


# -- a blob swapped behind a layer in the store -------------------------------
def test_blob_of_another_layer_cannot_take_a_stored_diff_id(store, tmp_path):
    victim_tar, evil_tar = tar_of({"bin/sh": b"good"}), tar_of({"bin/sh": b"evil"})
    victim = Layout(str(tmp_path / "victim")).image([victim_tar])
    store.import_oci_layout(str(tmp_path / "victim"))
    before = layers_map(store)
    evil = Layout(str(tmp_path / "evil"))
    evil.image([evil_tar], diff_ids=[digest_of(victim_tar)])
    with pytest.raises(PycontainError, match="does not match its diff_id"):
        store.import_oci_layout(evil.path, name="localhost/evil")
    assert layers_map(store) == before == {digest_of(victim_tar): victim["layers"][0]}
    assert [s.names for s in store.list()] == [["localhost/victim:latest"]]
    assert leftovers(store) == []


def test_diff_id_twice_in_one_manifest_is_checked_twice(store, tmp_path):
    good, evil = tar_of({"a": b"good"}), tar_of({"a": b"evil"})
    layout = Layout(str(tmp_path / "twice"))
    layout.image([good, evil], diff_ids=[digest_of(good)] * 2)
    with pytest.raises(PycontainError, match="does not match its diff_id"):
        store.import_oci_layout(layout.path)
    assert store.list() == [] and leftovers(store) == []


def test_same_layer_in_another_compression_is_kept_once(store, tmp_path):
    """The one legitimate other blob of a diff_id: verified, the stored one kept."""
    tar = tar_of({"a": b"same"})
    gz = Layout(str(tmp_path / "gz")).image([tar])
    store.import_oci_layout(str(tmp_path / "gz"))
    Layout(str(tmp_path / "plain")).image([tar, tar], compress="none")
    store.import_oci_layout(str(tmp_path / "plain"))
    assert layers_map(store) == {digest_of(tar): gz["layers"][0]}
    assert len(store.list()) == 2


# -- docker archives ------------------------------------------------------------
def docker_archive(path, manifest, config=None, layers=None) -> str:
    """A docker-save archive: manifest.json (bytes or JSON), config.json, layers."""
    layer = tar_of({"f": b"x"})
    config = config if config is not None else {
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [digest_of(layer)]}}
    files = {"config.json": json.dumps(config).encode(), "layer.tar": layer, **(layers or {})}
    files["manifest.json"] = manifest if isinstance(manifest, bytes) \
        else json.dumps(manifest).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def entry(**extra) -> list:
    return [{"Config": "config.json", "Layers": ["layer.tar"], **extra}]


@pytest.mark.parametrize("manifest, why", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    (entry(RepoTags="abc"), "RepoTags is not a list of strings"),
    (entry(RepoTags=["ok:1", 7]), "RepoTags is not a list of strings"),
    (entry(RepoTags={"a": "b"}), "RepoTags is not a list of strings"),
    ([{"Config": "config.json", "Layers": [1]}], "Layers is not a list of strings"),
], ids=["deep-list", "deep-object", "tags-string", "tags-int", "tags-object", "layers-int"])
def test_malformed_docker_manifest_refused(store, tmp_path, manifest, why):
    path = docker_archive(tmp_path / "a.tar", manifest)
    with pytest.raises(PycontainError) as info:
        load_archive(store, path)
    assert why in str(info.value) and str(info.value).startswith(f"archive {path}: ")
    assert store.list() == []


def test_docker_archive_tags_and_untagged(store, tmp_path):
    load_archive(store, docker_archive(tmp_path / "a.tar", entry(RepoTags=["one:1", "two:2"])))
    load_archive(store, docker_archive(tmp_path / "b.tar", entry(RepoTags=None)))
    assert sorted(store.list()[0].names) == [
        "docker.io/library/one:1", "docker.io/library/two:2", "localhost/b:latest"]


# -- image configs ----------------------------------------------------------------
def oci_image(tmp_path, extra: dict) -> str:
    """An OCI layout of one image whose config has the keys of extra."""
    layout = Layout(str(tmp_path / "img"))
    tar = tar_of({"a": b"a"})
    config = {"architecture": "amd64", "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": [digest_of(tar)]}, **extra}
    manifest = {"schemaVersion": 2, "mediaType": OCI["manifest"],
                "config": layout.blob(json.dumps(config).encode(), OCI["config"]),
                "layers": [layout.blob(gzip.compress(tar, mtime=0), OCI["gzip"])]}
    layout.add(layout.blob(json.dumps(manifest).encode(), OCI["manifest"]))
    return layout.path


BAD_CONFIGS = {
    "config-list": ({"config": ["x"]}, "config is not an object"),
    "env-string": ({"config": {"Env": "A=b"}}, "config.Env is not a list of strings"),
    "cmd-ints": ({"config": {"Cmd": [1]}}, "config.Cmd is not a list of strings"),
    "entrypoint-object": ({"config": {"Entrypoint": {}}}, "config.Entrypoint is not a list"),
    "shell-string": ({"config": {"Shell": "sh"}}, "config.Shell is not a list of strings"),
    "onbuild-ints": ({"config": {"OnBuild": [1]}}, "config.OnBuild is not a list of strings"),
    "labels-list": ({"config": {"Labels": ["a=b"]}}, "config.Labels is not an object of strings"),
    "labels-int": ({"config": {"Labels": {"a": 1}}}, "config.Labels is not an object of strings"),
    "ports-list": ({"config": {"ExposedPorts": ["80"]}}, "config.ExposedPorts is not an object"),
    "volumes-list": ({"config": {"Volumes": ["/v"]}}, "config.Volumes is not an object"),
    "healthcheck-string": ({"config": {"Healthcheck": "x"}}, "config.Healthcheck is not an object"),
    "user-int": ({"config": {"User": 0}}, "config.User is not a string"),
    "workdir-list": ({"config": {"WorkingDir": ["/"]}}, "config.WorkingDir is not a string"),
    "stopsignal-int": ({"config": {"StopSignal": 9}}, "config.StopSignal is not a string"),
    "history-ints": ({"history": [1]}, "history is not a list of objects"),
    "history-object": ({"history": {"created": "x"}}, "history is not a list of objects"),
    "history-created-int": ({"history": [{"created": 5}]}, "history[0].created is not a string"),
    "history-by-list": ({"history": [{}, {"created_by": []}]},
                        "history[1].created_by is not a string"),
    "history-empty-string": ({"history": [{"empty_layer": "yes"}]},
                             "history[0].empty_layer is not a boolean"),
    "created-int": ({"created": 5}, "created is not a string"),
}


@pytest.mark.parametrize("extra, why", list(BAD_CONFIGS.values()), ids=list(BAD_CONFIGS))
def test_malformed_config_refused(store, tmp_path, extra, why):
    with pytest.raises(PycontainError) as info:
        store.import_oci_layout(oci_image(tmp_path, extra))
    message = str(info.value)
    assert message.startswith("malformed image config sha256:") and why in message, message
    assert "\n" not in message and store.list() == [] and leftovers(store) == []


def test_deeply_nested_config_refused(store, tmp_path):
    layout = Layout(str(tmp_path / "deep"))
    config = b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    manifest = {"schemaVersion": 2, "mediaType": OCI["manifest"],
                "config": layout.blob(config, OCI["config"]), "layers": []}
    layout.add(layout.blob(json.dumps(manifest).encode(), OCI["manifest"]))
    with pytest.raises(PycontainError, match="nested too deeply"):
        store.import_oci_layout(layout.path)
    assert store.list() == []


def test_configs_of_real_images_accepted(store, tmp_path):
    """Docker writes null for what is unset; unknown keys are left alone."""
    image = store.import_oci_layout(oci_image(tmp_path, {
        "created": "2024-01-02T03:04:05Z", "author": "x", "container_config": {"Cmd": None},
        "config": {"Env": None, "Cmd": None, "Entrypoint": None, "Labels": None,
                   "ExposedPorts": {"80/tcp": {}}, "Volumes": None, "WorkingDir": "",
                   "User": "", "OnBuild": None, "Healthcheck": {"Test": ["NONE"]},
                   "ArgsEscaped": True, "Image": "sha256:" + "0" * 64},
        "history": [{"created": "2024-01-02T03:04:05Z", "created_by": "x",
                     "empty_layer": True}, {"comment": "c", "author": "a"}]}))
    assert image.config["config"]["ExposedPorts"] == {"80/tcp": {}}
    assert os.path.isdir(image.layer_dirs[0])
