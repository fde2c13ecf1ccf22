"""Function packages: fn create/list/get/update/delete/invoke, and hostile zips."""
import base64
import json
import os
import stat
import zipfile

import pytest

MAIN = ("def handler(event, context):\n"
        "    print('handling', event)\n"
        "    return {'statusCode': 200, 'body': 'Hello, ' + event.get('name', 'world')}\n")


def make_zip(path, files: dict, symlinks: dict = None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return str(path)


@pytest.fixture
def function(pc, tmp_path):
    """Create a function from a zip; delete it afterwards."""
    names = []

    def create(name, files=None, *flags):
        zip_path = make_zip(tmp_path / f"{name}.zip", files or {"main.py": MAIN})
        result = pc("fn", "create", name, "--zip-file", zip_path, "--handler", "main.handler",
                    *flags)
        assert result.returncode == 0, result.stderr
        names.append(name)
        return json.loads(result.stdout)
    yield create
    for name in names:
        pc("fn", "delete", name)


def invoke(pc, tmp_path, name, *args):
    out = tmp_path / "response.json"
    result = pc("fn", "invoke", name, *args, str(out))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), json.loads(out.read_text())


def test_create_and_invoke_round_trip(pc, function, tmp_path):
    config = function("greeter")
    assert config["FunctionName"] == "greeter" and config["Handler"] == "main.handler"
    assert config["Runtime"] == "python3.11" and config["MemorySize"] == 128
    status, response = invoke(pc, tmp_path, "greeter", "--payload", '{"name": "John Doe"}')
    assert status == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert response == {"statusCode": 200, "body": "Hello, John Doe"}


def test_log_tail_and_function_error(pc, function, tmp_path):
    function("failing", {"main.py": MAIN + "def boom(e, c):\n    raise KeyError('k')\n"})
    status, _ = invoke(pc, tmp_path, "failing", "--log-type", "Tail", "--payload", '{"name": "x"}')
    log = base64.b64decode(status["LogResult"]).decode()
    assert "handling {'name': 'x'}" in log and "REPORT RequestId:" in log
    pc("fn", "update", "failing", "--handler", "main.boom", check=True)
    status, response = invoke(pc, tmp_path, "failing")
    assert status["FunctionError"] == "Unhandled"
    assert response["errorType"] == "KeyError"


def test_list_get_update_delete(pc, function, tmp_path):
    function("lifecycle", None, "--timeout", "7", "--memory", "256m", "--env", "A=1")
    assert "lifecycle" in [f["FunctionName"] for f in
                           json.loads(pc.out("fn", "list"))["Functions"]]
    config = json.loads(pc.out("fn", "get", "lifecycle"))["Configuration"]
    assert (config["Timeout"], config["MemorySize"]) == (7, 256)
    assert config["Environment"] == {"Variables": {"A": "1"}}
    new_zip = make_zip(tmp_path / "v2.zip", {"main.py": "import os\ndef handler(e, c):\n"
                                             "    return os.environ['A']\n"})
    pc("fn", "update", "lifecycle", "--zip-file", new_zip, "--env", "A=2", check=True)
    assert invoke(pc, tmp_path, "lifecycle")[1] == "2"
    pc("fn", "delete", "lifecycle", check=True)
    result = pc("fn", "get", "lifecycle")
    assert result.returncode == 125 and "ResourceNotFoundException" in result.stderr
    pc("fn", "create", "lifecycle", "--zip-file", new_zip, "--handler", "main.handler",
       check=True)  # the name is free again (the fixture deletes it)


def test_packages_and_subdirectories(pc, function, tmp_path):
    function("pkg", {"app/__init__.py": "", "app/api.py": "def go(e, c):\n    return 'pkg'\n",
                     "main.py": "from app.api import go as handler\n"})
    assert invoke(pc, tmp_path, "pkg")[1] == "pkg"


def _functions_dir(pc):
    return pc.root / "fn" / "functions"


@pytest.mark.parametrize("files, symlinks, why", [
    ({"../evil.py": "x"}, None, "'..'"),
    ({"/etc/evil.py": "x"}, None, "absolute"),
    ({"a/../../evil.py": "x"}, None, "'..'"),
    ({"main.py": MAIN}, {"link.py": "/etc/passwd"}, "symbolic links"),
    ({"dir\\..\\evil.py": "x"}, None, "Windows"),
])
def test_hostile_zips_are_refused(pc, tmp_path, files, symlinks, why):
    zip_path = make_zip(tmp_path / "evil.zip", files, symlinks)
    result = pc("fn", "create", "evil", "--zip-file", zip_path, "--handler", "main.handler")
    assert result.returncode == 125 and why in result.stderr, result.stderr
    assert "InvalidParameterValueException" in result.stderr
    assert not os.path.exists(tmp_path.parent / "evil.py")
    assert os.listdir(_functions_dir(pc)) == [n for n in os.listdir(_functions_dir(pc))
                                              if n != "evil" and ".tmp-" not in n]


def test_bad_requests(pc, function, tmp_path):
    function("strict")
    out = tmp_path / "o.json"
    result = pc("fn", "invoke", "strict", "--payload", "{bad", str(out))
    assert result.returncode == 2 and "InvalidRequestContentException" in result.stderr
    result = pc("fn", "invoke", "nobody-here", str(out))
    assert result.returncode == 125 and "ResourceNotFoundException" in result.stderr
    result = pc("fn", "create", "strict", "--zip-file", str(tmp_path / "strict.zip"),
                "--handler", "main.handler")
    assert result.returncode == 125 and "ResourceConflictException" in result.stderr
    result = pc("fn", "create", "bad name", "--zip-file", str(tmp_path / "strict.zip"),
                "--handler", "main.handler")
    assert result.returncode == 125 and "invalid function name" in result.stderr
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    result = pc("fn", "create", "junk", "--zip-file", str(tmp_path / "junk.zip"),
                "--handler", "main.handler")
    assert result.returncode == 125 and "cannot read zip file" in result.stderr
    assert not out.exists()
