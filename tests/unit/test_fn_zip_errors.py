"""Bad function zips (encrypted, corrupt deflate, LZMA or bzip2 data, a name
that is not UTF-8, an entry shorter than its size, one the unpacker refuses)
are one InvalidParameterValueException line: exit 125 from `fn create`, 400
from the Lambda API's CreateFunction, never a traceback or a 500."""
import base64
import io
import json
import os
import struct
import subprocess
import zipfile
from types import SimpleNamespace

import pytest

from conftest import PYCONTAIN
from pycontain.errors import PycontainError
from pycontain.fn.registry.package import unpack_zip
from pycontain.fn.server.gateway import InvokeApi
from pycontain.fn.server.lambda_api import ControlApi

CODE = b"def handler(event, context):\n    return event\n" * 20


def _zip(method=zipfile.ZIP_STORED, entries=(("app.py", CODE),)) -> bytearray:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for name, data in entries:
            z.writestr(name, data)
    return bytearray(buf.getvalue())


def _data_at(raw: bytearray, offset: int, patch: bytes) -> bytearray:
    """raw with the first entry's (compressed) data patched at offset."""
    name_len, extra_len = struct.unpack("<HH", raw[26:30])
    start = 30 + name_len + extra_len + offset
    raw[start:start + len(patch)] = patch
    return raw


def _central(raw: bytearray, offset: int, patch: bytes) -> bytearray:
    """raw with the first central directory entry patched at offset."""
    at = raw.rfind(b"PK\x01\x02") + offset
    raw[at:at + len(patch)] = patch
    return raw


def _encrypted():
    raw = _zip()
    raw[6] |= 1  # the encrypted flag, in the local header and the central directory
    return _central(raw, 8, bytes([raw[raw.rfind(b"PK\x01\x02") + 8] | 1]))


def _first_name_byte(raw: bytearray, value: int) -> bytearray:
    raw[30] = value
    return _central(raw, 46, bytes([value]))


def _not_utf8_name():
    raw = _first_name_byte(_zip(), 0xFF)
    return _central(raw, 9, bytes([raw[raw.rfind(b"PK\x01\x02") + 9] | 0x08]))  # UTF-8 flag


def _bad_offset():
    """The end record places the central directory past where it is: the
    entry's offset comes out negative (seek: EINVAL)."""
    raw = _zip()
    at = raw.rfind(b"PK\x05\x06") + 16
    raw[at:at + 4] = struct.pack("<I", struct.unpack("<I", raw[at:at + 4])[0] + 100)
    return raw


BAD = {
    "encrypted": (_encrypted, "entry 'app.py': encrypted entries are not supported"),
    "deflate": (lambda: _data_at(_zip(zipfile.ZIP_DEFLATED), 0, b"\xff"),
                "corrupt zip file (Error -3 while decompressing data: invalid block type)"),
    "lzma": (lambda: _data_at(_zip(zipfile.ZIP_LZMA), 4, b"\xff" * 5),
             "corrupt zip file (Invalid or unsupported options)"),
    "bzip2": (lambda: _data_at(_zip(zipfile.ZIP_BZIP2), 0, b"XYZ"),
              "corrupt zip file (Invalid data stream)"),
    "bad offset": (_bad_offset, "corrupt zip file ([Errno 22] Invalid argument)"),
    "not utf-8": (_not_utf8_name, "cannot read zip file"),
    "empty name": (lambda: _first_name_byte(_zip(), 0), "entry '': empty name"),  # NUL ends it
    "short": (lambda: _central(_zip(), 24, struct.pack("<I", len(CODE) + 10)),
              "entry 'app.py': shorter than its size"),
    "file then child": (lambda: _zip(entries=(("a", b"x"), ("a/b", b"y"))),
                        "member 'a/b': 'a' is not a directory"),
}


@pytest.mark.parametrize("kind", BAD)
def test_bad_zip_is_one_refusal(tmp_path, kind):
    make, why = BAD[kind]
    path = tmp_path / "f.zip"
    path.write_bytes(make())
    with pytest.raises(PycontainError) as info:
        unpack_zip(str(path), str(tmp_path / "code"))
    message = str(info.value)
    assert message.startswith("InvalidParameterValueException: ") and why in message, message
    assert "\n" not in message and info.value.code == 125
    assert sorted(os.listdir(tmp_path)) == ["f.zip"]  # nothing left behind


def test_good_zip_still_unpacks(tmp_path):
    path = tmp_path / "f.zip"
    path.write_bytes(_zip(zipfile.ZIP_BZIP2, (("app.py", CODE), ("d/", b""), ("d/x", b"y"))))
    assert unpack_zip(str(path), str(tmp_path / "code")) == len(CODE) + 1
    assert (tmp_path / "code" / "app.py").read_bytes() == CODE


@pytest.mark.parametrize("kind", ["encrypted", "deflate", "lzma", "bzip2"])
def test_fn_create_exits_125_with_one_line(tmp_path, kind):
    path = tmp_path / "f.zip"
    path.write_bytes(BAD[kind][0]())
    env = dict(os.environ, PYCONTAIN_ROOT=str(tmp_path / "root"),
               PYCONTAIN_RUNROOT=str(tmp_path / "run"))
    done = subprocess.run([PYCONTAIN, "fn", "create", "f", "--zip-file", str(path),
                           "--handler", "app.handler"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 125, done.stderr
    assert done.stderr.startswith("pycontain: InvalidParameterValueException: ")
    assert done.stderr.count("\n") == 1, done.stderr


@pytest.mark.parametrize("kind", ["encrypted", "deflate", "lzma", "bzip2", "file then child"])
def test_create_function_answers_400(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("PYCONTAIN_ROOT", str(tmp_path / "root"))
    body = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r",
            "Runtime": "python3.12", "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(BAD[kind][0]()).decode()}}
    request = SimpleNamespace(method="POST", target="/2015-03-31/functions", headers={},
                              body=json.dumps(body).encode())
    logged = []
    response = InvokeApi(None, logged.append, ControlApi(1))(request)
    assert response.status == 400, response.body
    assert ("x-amzn-ErrorType", "InvalidParameterValueException") in response.headers
    assert json.loads(response.body)["message"].startswith("the uploaded zip file")
    assert logged == []
