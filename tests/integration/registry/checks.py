"""Shared by the registry tests: test credentials, and checks of a
pulled image and of the store."""
import hashlib
import json
import os

USER, PASSWORD = "alice", "s3cret-pw"

CHECK = ("cat /etc/keep; test -e /etc/hello || echo hello-gone; ls /d; "
         "stat -c '%i' /etc/keep /etc/keep-link; readlink /etc/sym; stat -c '%a' /suid; "
         "stat -c '%u' /home; cat /marker")


def check_multi(pc, image):
    out = pc.out("run", "--rm", image, "sh", "-c", CHECK).split("\n")
    assert out[:3] == ["keep", "hello-gone", "new"], out
    assert out[3] == out[4]          # the hardlink shares the inode
    assert out[5:9] == ["keep", "4755", "1000", "multi"], out


def names(pc) -> set:
    return {row["Name"] for row in json.loads(pc.out("images", "--format", "json"))}


def verified_blobs(pc) -> bool:
    directory = pc.root / "blobs" / "sha256"
    for name in os.listdir(directory):
        with open(directory / name, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != name:
                return False
    return True


def no_temporaries(pc) -> bool:
    leftovers = [n for _, dirs, files in os.walk(pc.root / "blobs") for n in dirs + files
                 if ".tmp-" in n]
    leftovers += [n for n in os.listdir(pc.root / "layers") if ".tmp-" in n]
    return not leftovers



def layer_digests(layout: str, tag: str) -> list:
    """The layer blob digests of tag in an OCI layout."""
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            hexpart = entry["digest"].partition(":")[2]
            with open(os.path.join(layout, "blobs", "sha256", hexpart)) as f:
                return [layer["digest"] for layer in json.load(f)["layers"]]
    raise KeyError(tag)
