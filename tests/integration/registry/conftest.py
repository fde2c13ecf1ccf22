"""Real registries (Debian's docker-registry on 127.0.0.1) populated with
images made by umoci and skopeo, for the pull, archive and store tests."""
import json
import hashlib
import os
import shutil

import pytest

from .checks import PASSWORD, USER
from .regserver import Registry, busybox_dir, skopeo_copy, umoci_image

NEEDED = ("docker-registry", "skopeo", "umoci", "htpasswd")


def pytest_collection_modifyitems(config, items):
    missing = [tool for tool in NEEDED if not shutil.which(tool)]
    for item in items:
        if missing and "registry" in item.path.parts:
            item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(missing)} (./install.sh)"))


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory):
    reg = Registry(tmp_path_factory.mktemp("auth-registry"), users={USER: PASSWORD})
    yield reg
    reg.stop()


def _multi_layers(work):
    """Layer dirs for the 'multi' image: files, hardlinks, symlinks, setuid;
    then a whiteout of /etc/hello, an opaque /d, and one more file."""
    base = work / "base"
    busybox_dir(base)
    for sub in ("etc", "d", "home"):
        (base / sub).mkdir()
    (base / "etc/hello").write_text("hello\n")
    (base / "etc/keep").write_text("keep\n")
    os.link(base / "etc/keep", base / "etc/keep-link")
    os.symlink("keep", base / "etc/sym")
    (base / "d/old").write_text("old\n")
    (base / "suid").write_text("#!/bin/sh\n")
    os.chmod(base / "suid", 0o4755)
    os.chown(base / "home", 1000, 1000)
    opaque = work / "opaque"
    opaque.mkdir()
    (opaque / "new").write_text("new\n")
    top = work / "top"
    top.mkdir()
    (top / "marker").write_text("multi\n")
    return [str(base), ("whiteout", "/etc/hello"), ("opaque", str(opaque), "/d"), str(top)]


def _platform_image(layout, work, arch):
    root = work / f"root-{arch}"
    busybox_dir(root)
    (root / "arch").write_text(arch + "\n")
    umoci_image(layout, arch, [str(root)], ["--architecture", arch, "--config.cmd", "/bin/sh"])


def _add_index(layout: str, tag: str, arches) -> None:
    """Make tag in the OCI layout an image index of the images tagged arches."""
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    entries = []
    for entry in index["manifests"]:
        name = entry.get("annotations", {}).get("org.opencontainers.image.ref.name")
        if name in arches:
            entries.append({"mediaType": entry["mediaType"], "digest": entry["digest"],
                            "size": entry["size"],
                            "platform": {"os": "linux", "architecture": name}})
    doc = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                      "manifests": entries}).encode()
    digest = hashlib.sha256(doc).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(doc)
    index["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                               "digest": "sha256:" + digest, "size": len(doc),
                               "annotations": {"org.opencontainers.image.ref.name": tag}})
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)


class Images:
    """Where the test images are: an OCI layout, and references in the registries."""

    def __init__(self, layout, host, auth_host):
        self.layout = layout
        self.oci = f"{host}/test/multi:oci"          # OCI manifest
        self.docker = f"{host}/test/multi:docker"    # Docker schema2 manifest
        self.index = f"{host}/test/multiarch:latest"  # OCI index amd64 + arm64
        self.private = f"{auth_host}/private/multi:v1"


@pytest.fixture(scope="session")
def images(tmp_path_factory, registry, auth_registry):
    work = tmp_path_factory.mktemp("images")
    layout = str(work / "layout")
    umoci_image(layout, "multi", _multi_layers(work), ["--config.cmd", "/bin/sh"])
    for arch in ("amd64", "arm64"):
        _platform_image(layout, work, arch)
    _add_index(layout, "multiarch", ("amd64", "arm64"))
    found = Images(layout, registry.host, auth_registry.host)
    skopeo_copy(f"oci:{layout}:multi", f"docker://{found.oci}", "--format", "oci")
    skopeo_copy(f"oci:{layout}:multi", f"docker://{found.docker}", "--format", "v2s2")
    skopeo_copy(f"oci:{layout}:multiarch", f"docker://{found.index}", "--all")
    skopeo_copy(f"oci:{layout}:multi", f"docker://{found.private}",
                f"--dest-creds={USER}:{PASSWORD}")
    return found


@pytest.fixture
def big_image(tmp_path_factory, registry):
    """(ref, OCI layout) of a fresh image with two 16 MB layers of random bytes."""
    work = tmp_path_factory.mktemp("big")
    layout = str(work / "layout")
    layers = []
    for i in range(2):
        root = work / f"l{i}"
        root.mkdir()
        (root / f"random{i}").write_bytes(os.urandom(16 << 20))
        layers.append(str(root))
    busybox_dir(work / "l0")
    umoci_image(layout, "big", layers, ["--config.cmd", "/bin/sh"])
    ref = f"{registry.host}/test/big-{os.urandom(4).hex()}:latest"
    skopeo_copy(f"oci:{layout}:big", f"docker://{ref}")
    return ref, layout


@pytest.fixture
def login_env(pc, tmp_path):
    """pc's environment with a credentials file and a docker config dir of
    the test's own."""
    env = dict(pc.env, PYCONTAIN_AUTH_FILE=str(tmp_path / "auth.json"),
               DOCKER_CONFIG=str(tmp_path / "docker"))
    return env
