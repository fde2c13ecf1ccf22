"""`pycontain push` to a real local registry (Debian's docker-registry on
127.0.0.1), directly or through a recording proxy (pushproxy.py) that shows
what went over the wire and can answer as a refusing or hostile registry."""
import copy
import json
import os
import signal
import time

import pytest

from .checks import PASSWORD, USER
from .hostile import Recorder
from .pushproxy import Proxy, error
from .regserver import run


@pytest.fixture
def proxy(registry):
    server = Proxy(registry.host)
    yield server
    server.stop()


def _digest(pc, name: str) -> str:
    """The manifest digest stored for name (`images` shows one digest per image
    id, and the OCI and Docker copies of test/multi are one image)."""
    return json.loads((pc.root / "images.json").read_text())["images"][name]["manifest_digest"]


def _fresh_engine(pc, tmp_path):
    """The engine on an empty store of its own."""
    engine = copy.copy(pc)
    engine.env = dict(pc.env, PYCONTAIN_ROOT=str(tmp_path / "fresh"))
    engine.root = tmp_path / "fresh"
    return engine


def _repo(host: str, what: str) -> str:
    return f"{host}/test/{what}-{os.urandom(4).hex()}"


def _store_state(pc) -> dict:
    state = {}
    for top, _, files in os.walk(pc.root):
        for name in files:
            st = os.lstat(os.path.join(top, name))  # a layer may hold a dangling link
            state[os.path.join(top, name)] = (st.st_size, st.st_mtime_ns)
    return state


def _refused(result, *words):
    assert result.returncode == 125, result
    assert result.stderr.startswith("pycontain: ") and result.stderr.count("\n") == 1, \
        result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _random_image(pc, tmp_path, size: int) -> tuple:
    """(name, content) of a one-layer image of its own holding /random, size
    random bytes: no registry has its blobs."""
    root = tmp_path / "rootfs"
    root.mkdir()
    content = os.urandom(size)
    (root / "random").write_bytes(content)
    name = f"localhost/random-{os.urandom(4).hex()}:latest"
    pc.out("import", str(root), name)
    return name, content


def test_push_then_skopeo_and_a_fresh_pull_see_the_same_digest(pc, registry, tmp_path):
    local = _digest(pc, "localhost/busybox:latest")
    dest = _repo(registry.host, "busybox") + ":v1"
    result = pc("push", "localhost/busybox", dest)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"v1: digest: {local} size: " \
        f"{os.path.getsize(pc.root / 'blobs/sha256' / local.partition(':')[2])}\n"
    assert "Blob " in result.stderr and ": pushed" in result.stderr  # progress lines
    inspected = json.loads(run("skopeo", "inspect", "--tls-verify=false", f"docker://{dest}"))
    assert inspected["Digest"] == local
    fresh = _fresh_engine(pc, tmp_path)
    fresh.out("pull", dest)
    assert _digest(fresh, dest) == local
    assert fresh.out("run", "--rm", dest, "echo", "pushed") == "pushed\n"


def test_pulled_docker_image_is_pushed_with_its_media_type(pc, images, registry):
    """A Docker schema2 manifest keeps its media type and digest; its blobs
    are mounted from the repository it was pulled from."""
    pc.out("pull", images.docker)
    dest = _repo(registry.host, "docker") + ":v2"
    result = pc("push", images.docker, dest)
    assert result.returncode == 0, result.stderr
    raw = json.loads(run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}"))
    blobs = len(raw["layers"]) + 1
    assert result.stderr.count("mounted from test/multi") == blobs, result.stderr
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    inspected = json.loads(run("skopeo", "inspect", "--tls-verify=false", f"docker://{dest}"))
    assert inspected["Digest"] == _digest(pc, images.docker)


def test_second_push_uploads_no_blob(pc, proxy):
    dest = _repo(proxy.host, "twice") + ":1"
    first = pc("push", "localhost/busybox", dest)
    assert first.returncode == 0, first.stderr
    assert [m for m, _ in proxy.methods("/blobs/uploads/")].count("PUT") == 2, proxy.seen
    proxy.seen.clear()
    again = pc("push", "localhost/busybox", dest)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    assert again.stderr.count("already exists") == 2, again.stderr
    assert {m for m, _ in proxy.methods("/blobs/")} == {"HEAD"}, proxy.seen
    assert [m for m, _ in proxy.methods("/manifests/")] == ["PUT"]


def test_cross_repository_mount_and_its_fallback(pc, proxy):
    """Blobs another repository of the registry holds (one the store names
    an image of) are mounted; a mount the registry cannot do (the source
    does not exist there) answers 202 and the push uploads instead."""
    ghost, first, second = (_repo(proxy.host, what) for what in ("m-ghost", "m-a", "m-b"))
    pc.out("tag", "localhost/busybox", ghost + ":1")   # named here, never pushed
    try:
        pc.out("tag", "localhost/busybox", first + ":1")
        result = pc("push", first + ":1")
        assert result.returncode == 0, result.stderr
        ghost_path = ghost.partition("/")[2]
        posts = [p for m, p in proxy.methods("/blobs/uploads/") if m == "POST"]
        assert len(posts) == 2 and all(f"from={ghost_path.replace('/', '%2F')}" in p
                                       for p in posts), posts
        assert len([m for m, _ in proxy.methods("/blobs/uploads/") if m == "PUT"]) == 2
        assert result.stderr.count(": pushed") == 2, result.stderr

        proxy.seen.clear()
        pc.out("tag", "localhost/busybox", second + ":1")
        result = pc("push", second + ":1")
        assert result.returncode == 0, result.stderr
        assert result.stderr.count(f"mounted from {first.partition('/')[2]}") == 2, result.stderr
        assert [m for m, _ in proxy.methods("/blobs/uploads/")] == ["POST", "POST"]
        fresh_digest = json.loads(run("skopeo", "inspect", "--tls-verify=false",
                                      f"docker://{second}:1"))["Digest"]
        assert fresh_digest == _digest(pc, "localhost/busybox:latest")
    finally:
        for name in (ghost, first, second):
            pc("rmi", name + ":1")


def test_token_scopes_of_a_push_and_a_mount(pc, proxy):
    """A bearer token for pull,push on the repository; a mount asks for
    pull on the source repository too."""
    proxy.tokens = True
    first, second = _repo(proxy.host, "tok-a"), _repo(proxy.host, "tok-b")
    pc.out("tag", "localhost/busybox", first + ":1")
    try:
        pc.out("push", first + ":1")
        a, b = first.partition("/")[2], second.partition("/")[2]
        assert proxy.scopes and set(map(tuple, proxy.scopes)) == {(f"repository:{a}:pull,push",)}
        proxy.scopes.clear()
        result = pc("push", "localhost/busybox", second + ":1")
        assert result.returncode == 0 and "mounted from" in result.stderr, result.stderr
        assert set(map(tuple, proxy.scopes)) == {
            (f"repository:{b}:pull,push",),
            (f"repository:{b}:pull,push repository:{a}:pull",)}, proxy.scopes
    finally:
        pc("rmi", first + ":1")


def test_chunked_upload_with_relative_locations(pc, proxy, tmp_path):
    name, content = _random_image(pc, tmp_path, 300 << 10)
    proxy.relative = True
    dest = _repo(proxy.host, "chunked") + ":c"
    try:
        result = pc("push", "--chunk-size", "64k", name, dest)
        assert result.returncode == 0, result.stderr
        patches = [(rng, n) for m, _, rng, n in proxy.seen if m == "PATCH"]
        assert len(patches) == 5, proxy.seen    # the layer (300 kB + tar headers) by 64 kB
        start = 0
        for rng, n in patches:
            assert rng == f"{start}-{start + n - 1}", patches
            start += n
        assert [n for _, n in patches[:-1]] == [64 << 10] * 4 and 0 < patches[-1][1] <= 64 << 10
        final = sorted(n for m, p, _, n in proxy.seen if m == "PUT" and "digest=" in p)
        assert len(final) == 2 and final[0] == 0   # after the chunks; the config's in one
        fresh = _fresh_engine(pc, tmp_path)
        fresh.out("pull", dest)
        assert _digest(fresh, dest) == _digest(pc, name)
        layers = fresh.root / "layers"
        [layer] = os.listdir(layers)
        assert (layers / layer / "random").read_bytes() == content
    finally:
        pc("rmi", name)


def test_push_to_a_registry_that_needs_login(pc, auth_registry, login_env):
    engine = copy.copy(pc)
    engine.env = login_env
    dest = _repo(auth_registry.host, "private") + ":1"
    _refused(engine("push", "localhost/busybox", dest), f"pycontain login {auth_registry.host}")
    engine.out("login", "-u", USER, "--password-stdin", auth_registry.host,
               input=PASSWORD + "\n")
    result = engine("push", "localhost/busybox", dest)
    assert result.returncode == 0, result.stderr
    inspected = json.loads(run("skopeo", "inspect", "--tls-verify=false",
                               f"--creds={USER}:{PASSWORD}", f"docker://{dest}"))
    assert inspected["Digest"] == _digest(pc, "localhost/busybox:latest")


def _fail_uploads(code):
    def answer(method, path):
        return error(code, "no pushes today") if method == "POST" else None
    return answer


def _challenge(method, path):
    return 401, [("WWW-Authenticate", 'Basic realm="r"')], b"{}"


def _huge_error(method, path):
    return error(500, "x", 8 << 20) if method == "POST" else None


def _foreign_location(recorder):
    def rewrite(method, path, code, headers, body):
        if method == "POST" and code == 202:
            headers = [(k, f"http://{recorder.host}/v2/steal" if k.lower() == "location" else v)
                       for k, v in headers]
        return code, headers, body
    return rewrite


def _short_range(method, path, code, headers, body):
    if method == "PATCH":
        headers = [(k, "0-10" if k.lower() == "range" else v) for k, v in headers]
    return code, headers, body


def _wrong_manifest_digest(method, path, code, headers, body):
    if method == "PUT" and "/manifests/" in path:
        headers = [(k, "sha256:" + "0" * 64 if k.lower() == "docker-content-digest" else v)
                   for k, v in headers]
    return code, headers, body


def _redirect_manifest(method, path):
    if method == "PUT" and "/manifests/" in path:
        return 307, [("Location", f"{path}-elsewhere")], b""
    return None


@pytest.mark.parametrize("knob, words", [
    (("answer", _fail_uploads(500)), ["HTTP 500", "no pushes today"]),
    (("answer", _fail_uploads(403)), ["HTTP 403"]),
    (("answer", _challenge), ["authentication required"]),
    (("answer", _huge_error), ["HTTP 500"]),
    (("rewrite", "foreign"), ["not on the registry itself: refused"]),
    (("rewrite", _short_range), ["the registry holds '0-10'"]),
    (("rewrite", _wrong_manifest_digest), ["stored the manifest as"]),
    (("answer", _redirect_manifest), ["was redirected", "refused"]),
])
def test_refusing_or_hostile_registry(pc, proxy, tmp_path, knob, words):
    """One line, exit 125, nothing written locally; nothing sent elsewhere."""
    recorder = Recorder()
    name, _ = _random_image(pc, tmp_path, 200 << 10)
    try:
        attr, value = knob
        setattr(proxy, attr, _foreign_location(recorder) if value == "foreign" else value)
        before = _store_state(pc)
        result = pc("push", "-q", "--chunk-size", "64k", name, _repo(proxy.host, "refused") + ":1")
        _refused(result, *words)
        assert _store_state(pc) == before
        assert recorder.seen == []
    finally:
        recorder.stop()
        pc("rmi", name)


def test_interrupted_push(pc, proxy, tmp_path):
    """Ctrl-C in the middle of a chunked upload: exit 130 at once, one
    line, nothing written locally."""
    name, _ = _random_image(pc, tmp_path, 1 << 20)

    def slow(method, path):
        if method == "PATCH":
            time.sleep(0.3)
    proxy.answer = slow
    try:
        before = _store_state(pc)
        proc = pc.popen("push", "-q", "--chunk-size", "64k", name, _repo(proxy.host, "int") + ":1")
        deadline = time.monotonic() + 20
        while not [m for m, *_ in proxy.seen if m == "PATCH"] and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 5
        assert proc.returncode == 130 and err == "pycontain: push interrupted\n", err
        assert _store_state(pc) == before
    finally:
        pc("rmi", name)


def test_bad_push_requests(pc, registry):
    image_id = json.loads(pc.out("images", "--format", "json"))[0]["Id"]
    host = registry.host
    for argv, words in (
            (["push", "localhost/nosuch:1", f"{host}/x/y:1"], ["image not known"]),
            (["push", image_id.partition(":")[2][:12]], ["give a destination"]),
            (["push", "localhost/busybox", f"{host}/x/y@sha256:" + "1" * 64],
             ["its manifest digest is"]),
            (["push", "--chunk-size", "1k", "localhost/busybox", f"{host}/x/y:1"],
             ["too small"]),
            (["push", "--chunk-size", "inf", "localhost/busybox", f"{host}/x/y:1"],
             ["invalid size for --chunk-size"]),
            (["push", "localhost/busybox", "Bad//ref"], ["invalid reference format"]),
            (["push", "localhost/busybox", "127.0.0.1:1/x:1"], ["connection refused"])):
        _refused(pc(*argv), *words)
