"""load / save / import with archives written and read by skopeo, and the
store commands (tag, rmi, image prune) around them."""
import gzip
import json
import os
import shutil
import subprocess

import pytest

from .checks import check_multi, names, no_temporaries, verified_blobs
from .regserver import run


@pytest.fixture(scope="module")
def archives(images, tmp_path_factory):
    """skopeo-written archives of the 'multi' image: docker, docker gzipped, OCI."""
    work = tmp_path_factory.mktemp("archives")
    src = f"oci:{images.layout}:multi"
    docker, oci = work / "multi-docker.tar", work / "multi-oci.tar"
    run("skopeo", "copy", "--quiet", "--insecure-policy", src,
        f"docker-archive:{docker}:example.com/test/dmulti:v1")
    run("skopeo", "copy", "--quiet", "--insecure-policy", src, f"oci-archive:{oci}:omulti:v2")
    gz = work / "multi-docker.tar.gz"
    with open(docker, "rb") as f, gzip.open(gz, "wb") as out:
        shutil.copyfileobj(f, out)
    return {"docker": docker, "docker-gz": gz, "oci": oci}


@pytest.mark.parametrize("kind,name", [("docker", "example.com/test/dmulti:v1"),
                                       ("docker-gz", "example.com/test/dmulti:v1"),
                                       ("oci", "localhost/omulti:v2")])
def test_load_skopeo_archives_and_run(pc, archives, kind, name):
    out = pc.out("load", "-i", archives[kind])
    assert out.startswith(f"Loaded image: {name} sha256:"), out
    check_multi(pc, name)
    pc.out("rmi", name)
    assert verified_blobs(pc) and no_temporaries(pc)


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_save_is_read_by_skopeo_and_loads_back(pc, images, tmp_path, fmt):
    pc.out("pull", images.oci)
    saved = tmp_path / "saved.tar"
    pc.out("save", "-o", saved, "--format", fmt, images.oci)
    inspected = json.loads(run("skopeo", "inspect", f"{fmt}:{saved}"))
    config = json.loads((pc.root / "images.json").read_text())["images"][images.oci]
    assert len(inspected["Layers"]) == len(config["diff_ids"]) == 4
    if fmt == "docker-archive":
        assert inspected["Layers"] == config["diff_ids"]
        import tarfile
        with tarfile.open(saved) as tar:
            listed = json.load(tar.extractfile("manifest.json"))
        assert listed[0]["RepoTags"] == [images.oci]
    copied = tmp_path / "copied"
    run("skopeo", "copy", "--quiet", "--insecure-policy", f"{fmt}:{saved}", f"oci:{copied}:x")
    pc.out("rmi", images.oci)
    pc.out("load", "-i", saved)
    check_multi(pc, images.oci)
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]


def test_load_refuses_bad_archives(pc, archives, tmp_path):
    cases = {"garbage.tar": b"not a tar at all" * 100,
             "truncated.tar.gz": archives["docker-gz"].read_bytes()[:20000]}
    data = archives["docker"].read_bytes()
    cases["short.tar"] = data[:len(data) // 2]
    before = names(pc)
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = pc("load", "-i", path)
        assert result.returncode == 125, (name, result)
        assert result.stderr.startswith("pycontain: ") and result.stderr.count("\n") == 1
    missing = pc("load", "-i", tmp_path / "nope.tar")
    assert missing.returncode == 125 and "no archive file" in missing.stderr
    assert names(pc) == before and no_temporaries(pc)


def test_import_tarball_and_directory(pc, tmp_path):
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", root / "bin/busybox")
    os.symlink("busybox", root / "bin/sh")
    (root / "flat").write_text("flat\n")
    os.mknod(root / "null", 0o20666, os.makedev(1, 3))  # dropped: layers carry no devices
    tarball = tmp_path / "rootfs.tar.gz"
    subprocess.run(["tar", "-czf", tarball, "-C", root, "."], check=True)
    for source, name in ((tarball, "localhost/flat:tgz"), (root, "flat:dir")):
        out = pc.out("import", source, name)
        assert out.split()[0] == (name if "/" in name else f"localhost/{name}") or \
            out.split()[0].endswith(name)
        assert pc.out("run", "--rm", name, "/bin/sh", "-c", "cat /flat; ls /null 2>&1 | wc -l")\
            .split("\n")[0] == "flat"
    no_name = pc("import", tarball)
    assert no_name.returncode == 125 and "NAME" in no_name.stderr


def test_tag_rmi_prune(pc, tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    shutil.copy2("/bin/busybox", root / "busybox")
    (root / "marker").write_text(os.urandom(8).hex())   # an image id of its own
    pc.out("import", root, "localhost/rmitest:1")
    original = "localhost/rmitest:1"
    alias = "localhost/alias:1"
    pc.out("tag", original, alias)
    pc.out("rmi", original)
    assert pc.out("run", "--rm", alias, "/busybox", "cat", "/marker") == \
        (root / "marker").read_text()
    # a container (stopped, not removed) keeps its image from plain rmi
    pc.out("run", "--name", "keeper", alias, "/busybox", "true")
    try:
        refused = pc("rmi", alias)
        assert refused.returncode == 125 and "keeper" in refused.stderr, refused.stderr
        out = pc.out("rmi", "-f", alias)
        assert "Untagged: " + alias in out and "Deleted: sha256:" in out
        assert alias not in names(pc)
        # the container's layers survived the collection
        meta = json.loads((pc.root / "containers" / pc.containers()[0] / "container.json")
                          .read_text())
        assert all((pc.root / lower).is_dir() for lower in meta["lower"])
    finally:
        pc("rm", "-f", "keeper")
    before = len(os.listdir(pc.root / "layers"))
    out = pc.out("image", "prune")
    assert out.startswith("Deleted ") and len(os.listdir(pc.root / "layers")) < before
    assert pc.out("run", "--rm", "busybox", "echo", "ok") == "ok\n"   # others untouched
    missing = pc("rmi", "localhost/never:1")
    assert missing.returncode == 125 and "image not known" in missing.stderr
