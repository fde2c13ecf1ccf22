"""The registry client against a small in-process registry on 127.0.0.1:
bearer-token auth, digest checks, truncated blobs, redirects and token
realms that point elsewhere; challenge parsing and the credentials file.
Runs as any user."""
import base64
import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pycontain.errors import PycontainError
from pycontain.image import auth, login, pull
from pycontain.image.store import ImageStore


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _image():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    layer_tar = buf.getvalue()
    layer = gzip.compress(layer_tar)
    config = json.dumps({"os": "linux", "architecture": "amd64", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [_digest(layer_tar)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _digest(layer), "size": len(layer)}]}).encode()
    return manifest, {_digest(config): config, _digest(layer): layer}


class FakeRegistry(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.manifest, self.blobs = _image()
        self.host = f"127.0.0.1:{self.server_address[1]}"
        self.users = None           # {user: password} demanded by the token service
        self.bad_digest_header = False
        self.truncate = False
        self.blob_gets = 0
        self.token_queries = []
        self.realm = None           # the token realm named, when not our own /token
        self.redirect_manifests = False
        self.blob_redirect = None   # base URL blobs are redirected to


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, code, body=b"", headers=(), length=None):
        self.send_response(code)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        reg = self.server
        if self.path.startswith("/storage/") and self.path[9:] in reg.blobs:
            return self._send(200, reg.blobs[self.path[9:]])
        if self.path.startswith("/token"):
            reg.token_queries.append(self.path)
            if reg.users is not None:
                import base64
                sent = self.headers.get("Authorization", "")
                good = {"Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()
                        for u, p in reg.users.items()}
                if sent not in good:
                    return self._send(401)
            return self._send(200, json.dumps({"token": "tok"}).encode())
        if self.headers.get("Authorization") != "Bearer tok":
            realm = reg.realm or f"http://{reg.host}/token"
            return self._send(401, b"{}", [("WWW-Authenticate",
                                            f'Bearer realm="{realm}",service="fake",'
                                            f'scope="repository:test/app:pull"')])
        if self.path.startswith("/v2/test/app/manifests/") and reg.redirect_manifests:
            return self._send(302, headers=[("Location", self.path + "?again=1")])
        if self.path.startswith("/v2/test/app/manifests/"):  # any tag or digest
            header = _digest(b"other") if reg.bad_digest_header else _digest(reg.manifest)
            return self._send(200, reg.manifest, [
                ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                ("Docker-Content-Digest", header)])
        prefix = "/v2/test/app/blobs/"
        if self.path.startswith(prefix) and self.path[len(prefix):] in reg.blobs:
            blob = reg.blobs[self.path[len(prefix):]]
            reg.blob_gets += 1
            if reg.blob_redirect:
                return self._send(307, headers=[
                    ("Location", f"{reg.blob_redirect}/{self.path[len(prefix):]}")])
            if reg.truncate and blob[:2] == b"\x1f\x8b":
                self._send(200, blob[:len(blob) // 2], length=len(blob))
                self.close_connection = True
                return None
            return self._send(200, blob)
        return self._send(404, b'{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}')


class Recorder(ThreadingHTTPServer):
    """Another loopback service: records every request (path, Authorization)
    and answers with a token of the given size."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RecorderHandler)
        self.host = f"127.0.0.1:{self.server_address[1]}"
        self.seen = []
        self.token = "tok"


class RecorderHandler(Handler):
    def do_GET(self):
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        self._send(200, json.dumps({"token": self.server.token}).encode())


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def registry():
    yield from _serve(FakeRegistry())


@pytest.fixture
def recorder():
    yield from _serve(Recorder())


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PYCONTAIN_AUTH_FILE", str(tmp_path / "auth.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    return tmp_path


def test_bearer_token_pull(registry, env):
    store = ImageStore(str(env / "store"))
    image = pull.pull(store, f"{registry.host}/test/app:latest")
    with open(os.path.join(image.layer_dirs[0], "hello")) as f:
        assert f.read() == "hello\n"
    assert "scope=repository%3Atest%2Fapp%3Apull" in registry.token_queries[0]
    assert "service=fake" in registry.token_queries[0]
    gets = registry.blob_gets
    pull.pull(store, f"{registry.host}/test/app:latest")
    assert registry.blob_gets == gets   # nothing fetched twice
    assert store.resolve(f"{registry.host}/test/app").id == image.id


def test_token_service_with_credentials(registry, env):
    registry.users = {"bob": "pw"}
    store = ImageStore(str(env / "store"))
    with pytest.raises(PycontainError, match="refused anonymous access"):
        pull.pull(store, f"{registry.host}/test/app:latest")
    auth.store(registry.host, "bob", "pw")
    assert stat.S_IMODE(os.stat(env / "auth.json").st_mode) == 0o600
    pull.pull(store, f"{registry.host}/test/app:latest")
    assert auth.forget(registry.host) == [registry.host]
    assert auth.lookup(registry.host) is None


def test_docker_config_credentials(env):
    (env / "docker").mkdir()
    (env / "docker/config.json").write_text(json.dumps(
        {"auths": {"https://index.docker.io/v1/": {"auth": "dTpwdw=="},
                   "reg.example:5000": {"username": "x", "password": "y"}}}))
    assert auth.lookup("docker.io") == ("u", "pw")
    assert auth.lookup("reg.example:5000") == ("x", "y")
    assert auth.lookup("other.example") is None


def test_bad_docker_content_digest(registry, env):
    registry.bad_digest_header = True
    store = ImageStore(str(env / "store"))
    with pytest.raises(PycontainError, match="Docker-Content-Digest"):
        pull.pull(store, f"{registry.host}/test/app:latest")


def test_truncated_blob_leaves_nothing(registry, env):
    registry.truncate = True
    store = ImageStore(str(env / "store"))
    with pytest.raises(PycontainError, match="read failed|size does not match"):
        pull.pull(store, f"{registry.host}/test/app:latest")
    assert not os.path.exists(store.images_file)
    assert os.listdir(store.blobs_dir) == [] and os.listdir(store.layers_dir) == []
    registry.truncate = False
    assert pull.pull(store, f"{registry.host}/test/app:latest").layer_dirs


def test_digest_reference_mismatch(registry, env):
    store = ImageStore(str(env / "store"))
    with pytest.raises(PycontainError, match="does not match its digest"):
        pull.pull(store, f"{registry.host}/test/app@{_digest(b'x')}")


def test_redirected_manifest_is_refused(registry, env):
    registry.redirect_manifests = True
    store = ImageStore(str(env / "store"))
    with pytest.raises(PycontainError, match=r"manifests/latest was redirected to .*: "
                                             r"refused \(only blob downloads"):
        pull.pull(store, f"{registry.host}/test/app:latest")


def test_blob_redirect_to_another_loopback_port_is_refused(registry, recorder, env):
    registry.blob_redirect = f"http://{recorder.host}/steal"
    store = ImageStore(str(env / "store"))
    with pytest.raises(PycontainError, match="blob redirect to http://127.0.0.1:.*refused"):
        pull.pull(store, f"{registry.host}/test/app:latest")
    assert recorder.seen == []
    assert not os.path.exists(store.images_file)


def test_blob_redirect_to_the_registry_itself_is_followed(registry, env):
    registry.blob_redirect = f"http://{registry.host}/storage"
    image = pull.pull(ImageStore(str(env / "store")), f"{registry.host}/test/app:latest")
    with open(os.path.join(image.layer_dirs[0], "hello")) as f:
        assert f.read() == "hello\n"


def test_foreign_token_realm_gets_no_credentials(registry, recorder, env):
    registry.realm = f"http://{recorder.host}/token"
    auth.store(registry.host, "bob", "pw")
    pull.pull(ImageStore(str(env / "store")), f"{registry.host}/test/app:latest")
    assert recorder.seen and all(sent is None for _, sent in recorder.seen)  # anonymous


def test_trusted_token_realm_gets_credentials(registry, recorder, env):
    registry.realm = f"http://{recorder.host}/token"
    auth.store(registry.host, "bob", "pw", [recorder.host])
    assert auth.token_realms(registry.host) == (recorder.host,)
    pull.pull(ImageStore(str(env / "store")), f"{registry.host}/test/app:latest")
    assert recorder.seen[0][1] == "Basic " + base64.b64encode(b"bob:pw").decode()


def test_plain_http_realm_on_another_host_is_refused(registry, recorder, env):
    registry.realm = f"http://localhost:{recorder.server_address[1]}/token"
    with pytest.raises(PycontainError, match="plain http on another host: refused"):
        pull.pull(ImageStore(str(env / "store")), f"{registry.host}/test/app:latest")
    assert recorder.seen == []


def test_token_response_is_bounded(registry, recorder, env):
    registry.realm = f"http://{recorder.host}/token"
    recorder.token = "t" * (1 << 20)
    with pytest.raises(PycontainError, match="token response larger than"):
        pull.pull(ImageStore(str(env / "store")), f"{registry.host}/test/app:latest")


@pytest.mark.parametrize("header,expected", [
    ('Bearer realm="https://auth.example/token",service="registry.example",'
     'scope="repository:library/busybox:pull"',
     ("bearer", {"realm": "https://auth.example/token", "service": "registry.example",
                 "scope": "repository:library/busybox:pull"})),
    ('Basic realm="x"', ("basic", {"realm": "x"})),
    ('Bearer realm=https://a/t, service="s\\"q"', ("bearer", {"realm": "https://a/t",
                                                               "service": 's"q'})),
])
def test_parse_challenge(header, expected):
    assert auth.parse_challenge(header) == expected


@pytest.mark.parametrize("text,expected", [
    ("linux/arm64", ("linux", "arm64", None)), ("linux/arm/v7", ("linux", "arm", "v7"))])
def test_parse_platform(text, expected):
    assert pull.parse_platform(text) == expected


@pytest.mark.parametrize("text", ["linux", "linux/", "a/b/c/d"])
def test_bad_platform(text):
    with pytest.raises(PycontainError, match="invalid platform"):
        pull.parse_platform(text)


@pytest.mark.parametrize("text,expected", [
    ("gitlab.com", "gitlab.com"), ("https://GitLab.com/jwt/auth", "gitlab.com"),
    ("127.0.0.1:5001", "127.0.0.1:5001"), ("[::1]:5001", "[::1]:5001")])
def test_token_realm_host(text, expected):
    assert login.realm_host(text) == expected


@pytest.mark.parametrize("text", ["", "a b", "x:99999", "x:", "user@host"])
def test_bad_token_realm_host(text):
    with pytest.raises(PycontainError, match="invalid token realm host"):
        login.realm_host(text)
