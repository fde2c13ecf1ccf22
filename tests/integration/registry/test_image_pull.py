"""`pycontain pull` from a real local registry, and the pulled images run."""
import copy
import json
import os
import signal
import stat
import time

import pytest

from .checks import (PASSWORD, USER, check_multi, layer_digests, names, no_temporaries,
                     verified_blobs)

@pytest.mark.parametrize("kind", ["oci", "docker"])
def test_pull_and_run_multi_layer(pc, images, kind):
    ref = getattr(images, kind)
    result = pc("pull", ref)
    assert result.returncode == 0, result.stderr
    name, image_id = result.stdout.split()
    assert name == ref and image_id.startswith("sha256:")
    assert "Blob " in result.stderr       # plain progress lines off a terminal
    check_multi(pc, ref)
    again = pc("pull", ref)
    assert again.returncode == 0 and again.stdout.split()[1] == image_id
    assert "done" not in again.stderr and "already in the store" in again.stderr
    assert verified_blobs(pc) and no_temporaries(pc)


def test_run_pulls_a_missing_image_named_with_its_registry(pc, images):
    ref = images.oci
    pc("rmi", "-f", ref)  # other tests of this session may have pulled it
    assert pc("run", "--rm", "--pull", "never", ref, "true").returncode == 125
    result = pc("run", "--rm", ref, "cat", "/etc/hostname")
    assert result.returncode == 0, result.stderr
    assert "Blob " in result.stderr  # it was pulled on the way
    assert ref in pc.out("images", "--format", "json")
    assert "Blob " not in pc("run", "--rm", ref, "true").stderr  # present now: no pull
    assert pc("run", "--rm", "nosuchimage", "true").returncode == 125  # bare name: no pull


def test_pull_index_picks_platform(pc, images):
    pc.out("pull", "--tls-verify=false", images.index)
    assert pc.out("run", "--rm", images.index, "cat", "/arch") == "amd64\n"
    arm = images.index.replace(":latest", ":arm")
    pc.out("pull", "--platform", "linux/arm64", images.index)
    pc.out("tag", images.index, arm)
    assert pc.out("run", "--rm", arm, "cat", "/arch") == "arm64\n"
    missing = pc("pull", "--platform", "linux/s390x", images.index)
    assert missing.returncode == 125
    assert "no image for linux/s390x" in missing.stderr


def test_pull_by_digest(pc, images):
    pc.out("pull", images.oci)
    rows = [r for r in json.loads(pc.out("images", "--format", "json")) if r["Name"] == images.oci]
    by_digest = images.oci.rsplit(":", 1)[0] + "@" + rows[0]["Digest"]
    assert pc.out("pull", by_digest).split()[0] == by_digest
    assert pc.out("run", "--rm", by_digest, "cat", "/marker") == "multi\n"
    bad = images.oci.rsplit(":", 1)[0] + "@sha256:" + "0" * 64
    result = pc("pull", bad)
    assert result.returncode == 125 and "not found" in result.stderr, result.stderr


def test_pull_errors_are_one_line(pc, registry):
    for ref, why in ((f"{registry.host}/test/multi:nope", "not found"),
                     (f"{registry.host}/no/such:latest", "not found"),
                     ("127.0.0.1:1/x:latest", "connection refused"),
                     ("Bad//ref", "invalid reference format")):
        result = pc("pull", ref)
        assert result.returncode == 125, result
        assert result.stderr.startswith("pycontain: ") and why in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1


def test_auth_login_pull_logout(pc, images, auth_registry, login_env, tmp_path):
    engine = copy.copy(pc)
    engine.env = login_env
    denied = engine("pull", images.private)
    assert denied.returncode == 125 and "pycontain login" in denied.stderr, denied.stderr
    wrong = engine("login", "-u", USER, "--password-stdin", auth_registry.host, input="nope\n")
    assert wrong.returncode == 125 and "refused" in wrong.stderr, wrong.stderr
    assert not os.path.exists(login_env["PYCONTAIN_AUTH_FILE"])
    engine.out("login", "-u", USER, "--password-stdin", "--tls-verify=false",
               auth_registry.host, input=PASSWORD + "\n")
    st = os.stat(login_env["PYCONTAIN_AUTH_FILE"])
    assert stat.S_IMODE(st.st_mode) == 0o600
    engine.out("pull", images.private)
    assert engine.out("run", "--rm", images.private, "cat", "/marker") == "multi\n"
    engine.out("logout", auth_registry.host)
    assert engine("pull", images.private).returncode == 125
    # docker's config.json is read too
    os.makedirs(login_env["DOCKER_CONFIG"])
    import base64
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    with open(os.path.join(login_env["DOCKER_CONFIG"], "config.json"), "w") as f:
        json.dump({"auths": {auth_registry.host: {"auth": token}}}, f)
    engine.out("pull", images.private)


def _wait_for_download(pc, timeout=20):
    deadline = time.monotonic() + timeout
    pulls = pc.root / "pulls"
    while time.monotonic() < deadline:
        if pulls.exists():
            for area in os.listdir(pulls):
                path = pulls / area
                if path.is_dir() and any(os.path.getsize(path / f) > 0 for f in os.listdir(path)
                                         if (path / f).is_file()):
                    return True
        time.sleep(0.002)
    return False


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_pull_then_pull_again(pc, big_image, how):
    ref, _ = big_image
    proc = pc.popen("pull", ref)
    assert _wait_for_download(pc), "the pull never started downloading"
    proc.send_signal(how)
    _, err = proc.communicate(timeout=30)
    if proc.returncode == 0:
        pytest.skip("the pull finished before it could be interrupted")
    assert ref not in names(pc)
    if how == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in err, err
        assert not os.listdir(pc.root / "pulls") or os.listdir(pc.root / "pulls") == ["lock"]
    assert verified_blobs(pc) and no_temporaries(pc)
    pc.out("pull", ref)
    assert pc.out("run", "--rm", ref, "sh", "-c", "stat -c %s /random0 /random1") == \
        f"{16 << 20}\n{16 << 20}\n"
    assert verified_blobs(pc) and no_temporaries(pc)


def test_concurrent_pulls(pc, big_image):
    ref, _ = big_image
    procs = [pc.popen("pull", ref) for _ in range(3)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    downloads = sum(err.count(": done") for _, err in results)
    assert downloads == 2, results   # each of the 2 layer blobs fetched by one pull only
    assert pc.out("run", "--rm", ref, "stat", "-c", "%s", "/random1") == f"{16 << 20}\n"
    assert verified_blobs(pc) and no_temporaries(pc)


def test_corrupt_blob_in_registry_is_refused(pc, registry, big_image):
    ref, layout = big_image
    digest = layer_digests(layout, "big")[-1]
    path = registry.storage_blob(digest)
    with open(path, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    result = pc("pull", ref)
    assert result.returncode == 125
    assert "does not match its digest" in result.stderr, result.stderr
    assert ref not in names(pc)
    assert not (pc.root / "blobs/sha256" / digest.partition(":")[2]).exists()
    assert verified_blobs(pc) and no_temporaries(pc)
