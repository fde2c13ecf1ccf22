"""`pycontain pull` from hostile registries (hostile.py's Front in front of
a real docker-registry, all on 127.0.0.1): redirects, token realms on other
hosts, layers carrying overlayfs's own xattrs."""
import copy
import gzip
import hashlib
import io
import json
import os
import ssl
import struct
import subprocess
import tarfile

import pytest

from .checks import PASSWORD, USER, names, verified_blobs
from .hostile import Front, Recorder
from .regserver import skopeo_copy, umoci_image

# VFS_CAP_REVISION_2 | effective, permitted = CAP_NET_RAW (13)
CAP_NET_RAW = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)


@pytest.fixture
def front(registry):
    server = Front(registry.host)
    yield server
    server.stop()


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.stop()


@pytest.fixture
def fresh_image(registry, tmp_path):
    """'test/hostile-RANDOM:latest' in the registry: one small layer of its
    own, so no pull finds its blobs already in the store."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "marker").write_bytes(os.urandom(64).hex().encode())
    layout = str(tmp_path / "layout")
    umoci_image(layout, "x", [str(root)])
    path = f"test/hostile-{os.urandom(4).hex()}:latest"
    skopeo_copy(f"oci:{layout}:x", f"docker://{registry.host}/{path}")
    return path


def refused(result, *words):
    assert result.returncode == 125, result
    assert result.stderr.startswith("pycontain: ") and result.stderr.count("\n") == 1, \
        result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_redirected_manifest_is_refused(pc, front, fresh_image):
    front.redirect_manifests = True  # to the real registry: the target is not the point
    ref = f"{front.host}/{fresh_image}"
    refused(pc("pull", ref), "manifests/latest was redirected to http://", "refused")
    assert ref not in names(pc)


def test_blob_redirect_to_another_loopback_port_is_refused(pc, front, recorder, fresh_image):
    front.realm = "self"  # requests carry a bearer token
    front.blob_redirect = f"http://{recorder.host}/steal"
    ref = f"{front.host}/{fresh_image}"
    refused(pc("pull", ref), f"blob redirect to http://{recorder.host}/steal/", "refused")
    assert recorder.seen == []  # not asked at all, so certainly no Authorization
    assert ref not in names(pc)


def test_blob_redirect_to_the_registry_itself_is_followed(pc, front, fresh_image):
    front.blob_redirect = f"http://{front.host}/storage"
    ref = f"{front.host}/{fresh_image}"
    result = pc("pull", ref)
    assert result.returncode == 0, result.stderr
    assert ref in names(pc) and verified_blobs(pc)


def test_blob_redirect_to_https_elsewhere_carries_no_authorization(pc, front, fresh_image,
                                                                   tmp_path):
    """Storage on another host over https (its certificate signed by a CA of
    the test's own, trusted through SSL_CERT_FILE) gets the download, but not
    the registry's Authorization header."""
    def run(*argv):
        subprocess.run(argv, check=True, capture_output=True, cwd=tmp_path)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=test CA", "-keyout", "ca.key", "-out", "ca.pem")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "srv.key", "-out", "srv.csr")
    (tmp_path / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "1", "-extfile", "ext", "-out", "srv.pem")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "srv.pem", tmp_path / "srv.key")
    storage = Front(front.backend, tls)
    try:
        front.realm = "self"
        front.blob_redirect = f"https://{storage.host}/storage"
        engine = copy.copy(pc)
        engine.env = dict(pc.env, SSL_CERT_FILE=str(tmp_path / "ca.pem"))
        ref = f"{front.host}/{fresh_image}"
        engine.out("pull", ref)
        assert any(sent and sent.startswith("Bearer ") for _, sent in front.seen)
        assert storage.seen and all(sent is None for _, sent in storage.seen), storage.seen
    finally:
        storage.stop()


def test_foreign_token_realm_gets_no_stored_credentials(pc, front, recorder, login_env,
                                                        fresh_image):
    engine = copy.copy(pc)
    engine.env = login_env
    front.realm, front.users = "self", {USER: PASSWORD}
    engine.out("login", "-u", USER, "--password-stdin", front.host, input=PASSWORD + "\n")
    # the registry now names a token service on another port, which wants the credentials
    front.realm, recorder.users = f"http://{recorder.host}/token", {USER: PASSWORD}
    ref = f"{front.host}/{fresh_image}"
    refused(engine("pull", ref), "refused anonymous access",
            f"pycontain login --token-realm {recorder.host} {front.host}")
    assert recorder.seen and all(sent is None for _, sent in recorder.seen), recorder.seen
    # login without trusting the realm fails too, and sends nothing there
    refused(engine("login", "-u", USER, "--password-stdin", front.host, input=PASSWORD + "\n"),
            f"--token-realm {recorder.host}")
    assert all(sent is None for _, sent in recorder.seen), recorder.seen
    # trusted by the user: the credentials go there, and the pull works
    engine.out("login", "-u", USER, "--password-stdin", "--token-realm", recorder.host,
               front.host, input=PASSWORD + "\n")
    with open(login_env["PYCONTAIN_AUTH_FILE"]) as f:
        entry = json.load(f)["auths"][front.host]
    assert entry["pycontainTokenRealms"] == [recorder.host]
    engine.out("pull", ref)
    assert recorder.seen[-1][1].startswith("Basic ")


def _oci_layout(layout, members) -> str:
    """An OCI layout with one image 'x' of one gzip layer of members
    [(TarInfo, data)]; returns the layer's diff_id."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buf.getvalue()
    layer = gzip.compress(raw)
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data, media_type):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": put(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [put(layer, "application/vnd.oci.image.layer.v1.tar+gzip")]}).encode()
    desc = put(manifest, "application/vnd.oci.image.manifest.v1+json")
    desc["annotations"] = {"org.opencontainers.image.ref.name": "x"}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [desc]}, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return diff_id


def test_layer_cannot_carry_overlay_xattrs(pc, registry, tmp_path):
    xattrs = {"trusted.overlay.opaque": "y", "user.overlay.redirect": "/etc",
              "user.overlay.origin": "forged", "user.foo": "bar",
              "security.capability": CAP_NET_RAW.decode("utf-8", "surrogateescape")}
    members = []
    for name, kind in (("d", tarfile.DIRTYPE), ("f", tarfile.REGTYPE)):
        info = tarfile.TarInfo(name)
        info.type, info.mode = kind, 0o755
        info.pax_headers = {"SCHILY.xattr." + k: v for k, v in xattrs.items()}
        info.pax_headers["marker"] = os.urandom(8).hex()  # a layer of this test's own
        members.append((info, b""))
    layout = str(tmp_path / "layout")
    diff_id = _oci_layout(layout, members)
    ref = f"{registry.host}/test/xattrs-{os.urandom(4).hex()}:latest"
    skopeo_copy(f"oci:{layout}:x", f"docker://{ref}")
    pc.out("pull", ref)
    layer = pc.root / "layers" / diff_id.partition(":")[2]
    assert os.getxattr(layer / "f", "security.capability") == CAP_NET_RAW
    for path in (layer / "d", layer / "f"):
        assert os.getxattr(path, "user.foo") == b"bar"
        assert not [x for x in os.listxattr(path) if ".overlay." in x], os.listxattr(path)
