"""Hostile JSON where images and Containerfiles are read: nesting deeper than
the stack allows, and descriptors whose fields have the wrong types, are one
PycontainError line (exit 125 through the CLI), never a traceback. The
registry's documents come from a small server on 127.0.0.1."""
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import PYCONTAIN
from pycontain import jsonio
from pycontain.build.parser import parse
from pycontain.errors import PycontainError
from pycontain.image import manifest as mf
from pycontain.image.oci_layout import OCILayout
from pycontain.image.reference import parse as parse_reference
from pycontain.image.registry import Repository

DEEP = "[" * 200_000
DIGEST = "sha256:" + "a" * 64


def test_parse_refuses_deep_invalid_and_non_utf8_input():
    assert jsonio.parse(b'{"a": [1, "x"]}', "doc") == {"a": [1, "x"]}
    for data, why in ((DEEP, "nested too deeply"), ('{"a":' * 100_000, "nested too deeply"),
                      ("[1", "Expecting"), (b"\xff", "'utf-8' codec can't decode")):
        with pytest.raises(PycontainError, match=f"^doc is not valid JSON \\({why}") as info:
            jsonio.parse(data, "doc")
        assert info.value.code == 125


def test_load_json_refuses_deep_nesting():
    with pytest.raises(PycontainError, match="^config is not valid JSON \\(nested too deeply\\)"):
        mf.load_json(DEEP.encode(), "config")


def _entry(**fields):
    return dict({"mediaType": mf.OCI_MANIFEST, "digest": DIGEST, "size": 1}, **fields)


@pytest.mark.parametrize("fields,problem", [
    ({"annotations": "x"}, "annotations is not an object of strings"),
    ({"annotations": ["x"]}, "annotations is not an object of strings"),
    ({"annotations": {mf.REF_NAME: 1}}, "annotations is not an object of strings"),
    ({"platform": "linux/amd64"}, "platform is not an object"),
    ({"platform": []}, "platform is not an object"),
    ({"mediaType": 5}, "mediaType 5 is not a string"),
    ({"mediaType": ["x"]}, "mediaType \\['x'\\] is not a string"),
    ({"size": "1"}, "bad size '1'"),
    ({"size": True}, "bad size True"),
])
def test_descriptor_field_types(fields, problem):
    with pytest.raises(PycontainError, match=f"^malformed index entry {DIGEST}: {problem}$"):
        mf.index_entries({"manifests": [_entry(**fields)]})


def test_descriptor_defaults_and_manifest_media_type():
    desc = mf.Descriptor(_entry(annotations=None, platform=None))
    assert (desc.annotations, desc.platform) == ({}, {})
    assert mf.Descriptor(_entry(annotations={mf.REF_NAME: "v1"})).annotations[mf.REF_NAME] == "v1"
    with pytest.raises(PycontainError, match="^malformed manifest: mediaType 1 is not a string"):
        mf.kind_of({"mediaType": 1, "manifests": []})
    with pytest.raises(PycontainError, match="^malformed manifest: mediaType"):
        mf.Manifest({"mediaType": {}, "schemaVersion": 2})


def _layout(tmp_path, index: str):
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (tmp_path / "index.json").write_text(index)
    return tmp_path


def test_oci_layout_index_is_checked(tmp_path):
    with pytest.raises(PycontainError, match="index.json is not valid JSON \\(nested too"):
        OCILayout(str(_layout(tmp_path, DEEP)))
    index = json.dumps({"schemaVersion": 2, "manifests": [_entry(annotations="x")]})
    with pytest.raises(PycontainError, match="index.json: malformed index entry .*annotations"):
        OCILayout(str(_layout(tmp_path, index)))


@pytest.mark.parametrize("index", [DEEP, json.dumps({"manifests": [_entry(annotations="x")]})])
def test_import_of_a_hostile_layout_is_one_line_exit_125(tmp_path, index):
    (tmp_path / "layout").mkdir()
    layout = _layout(tmp_path / "layout", index)
    env = dict(os.environ, PYCONTAIN_ROOT=str(tmp_path / "root"),
               PYCONTAIN_RUNROOT=str(tmp_path / "run"))
    done = subprocess.run([PYCONTAIN, "import", f"oci:{layout}", "x"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 125, done.stderr
    assert done.stderr.startswith("pycontain: ") and done.stderr.count("\n") == 1, done.stderr


def test_deep_exec_form_is_the_shell_form():
    inst = parse("FROM scratch\nCMD " + DEEP).instructions[1]
    assert inst.exec_form is None and inst.args == DEEP
    assert parse('FROM a\nCMD ["a", "b"]').instructions[1].exec_form == ["a", "b"]


# -- a registry's error bodies and token responses -----------------------------


class Registry(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server_address[1]}"
        self.token_body = self.error_body = b""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        reg = self.server
        if self.path.startswith("/token"):
            self._send(200, reg.token_body)
        elif self.headers.get("Authorization") != "Bearer tok":
            self._send(401, b"{}", ("WWW-Authenticate",
                                    f'Bearer realm="http://{reg.host}/token",service="s"'))
        else:
            self._send(500, reg.error_body)

    def _send(self, code, body, *headers):
        self.send_response(code)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("PYCONTAIN_AUTH_FILE", str(tmp_path / "auth.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    server = Registry()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _repo(registry):
    return Repository(parse_reference(f"{registry.host}/test/app:latest"), tls_verify=False)


def test_deep_token_response_is_no_usable_token(registry):
    registry.token_body = DEEP.encode()
    with pytest.raises(PycontainError, match="token service sent no usable token"):
        _repo(registry).manifest("latest")


def test_deep_registry_error_body_is_left_out(registry):
    registry.token_body = b'{"token": "tok"}'
    registry.error_body = b'{"errors": ' + b"[" * 60_000
    with pytest.raises(PycontainError, match="manifest latest: HTTP 500$"):
        _repo(registry).manifest("latest")
    registry.error_body = b'{"errors": [{"code": "DENIED", "message": "no"}]}'
    with pytest.raises(PycontainError, match="manifest latest: HTTP 500 \\(no\\)$"):
        _repo(registry).manifest("latest")
