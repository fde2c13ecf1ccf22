"""Function packages: fn create/list/get/update/delete/invoke, and hostile zips."""
import base64
import json
import os
import stat
import zipfile

import pytest
from helpers import one_error_line

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


def test_an_outfile_that_cannot_be_written_is_one_error_line(pc, function, tmp_path):
    """Checked before the call (whose result would have nowhere to go): one
    line, 125, no status printed as if the call had been made."""
    function("unwritable")
    target = tmp_path / "missing" / "out.json"
    result = pc("fn", "invoke", "unwritable", str(target))
    assert one_error_line(result) == f"pycontain: cannot write {target}: No such file or directory"
    assert result.stdout == ""


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


def _whole(config: dict) -> tuple:
    """Timeout and MemorySize, which must be JSON integers (Lambda's), never 3.0."""
    assert type(config["Timeout"]) is int and type(config["MemorySize"]) is int, config
    return config["Timeout"], config["MemorySize"]


def test_timeout_and_memory_size_are_integers_everywhere(pc, function, tmp_path):
    assert _whole(function("whole")) == (3, 128)
    assert _whole(json.loads(pc.out("fn", "get", "whole"))["Configuration"]) == (3, 128)
    updated = json.loads(pc.out("fn", "update", "whole", "--timeout", "30", "--memory", "1g"))
    assert _whole(updated) == (30, 1024)
    listed = json.loads(pc.out("fn", "list"))["Functions"]
    assert [_whole(f) for f in listed if f["FunctionName"] == "whole"] == [(30, 1024)]
    # Lambda takes whole seconds only: a fraction is refused, in one line, changing nothing
    for value in ("2.5", "3.0", "1e1", "-1", "\u0663"):  # the last: an Arabic-Indic 3
        for command in (["create", "frac", "--zip-file", make_zip(tmp_path / "f.zip",
                                                                  {"main.py": MAIN}),
                         "--handler", "main.handler"], ["update", "whole"]):
            line = one_error_line(pc("fn", *command, f"--timeout={value}"))
            assert line.startswith("pycontain: InvalidParameterValueException") and \
                "whole number of seconds" in line, line
    assert _whole(json.loads(pc.out("fn", "get", "whole"))["Configuration"]) == (30, 1024)
    assert "frac" not in os.listdir(_functions_dir(pc))


def test_aws_cli_spellings(pc, tmp_path):
    """`aws lambda create-function`'s flags: --function-name, --runtime, --role,
    --zip-file fileb://PATH; update-function-configuration's too."""
    zip_path = make_zip(tmp_path / "aws.zip", {"main.py": MAIN})
    role = "arn:aws:iam::123456789012:role/lambda-ex"
    try:
        config = json.loads(pc.out(
            "fn", "create", "--function-name", "awsfn", "--runtime", "python3.12",
            "--role", role, "--zip-file", f"fileb://{zip_path}", "--handler", "main.handler"))
        assert (config["FunctionName"], config["Runtime"], config["Role"]) == \
            ("awsfn", "python3.12", role)
        shown = json.loads(pc.out("fn", "get", "awsfn"))["Configuration"]
        assert (shown["Runtime"], shown["Role"]) == ("python3.12", role)
        assert invoke(pc, tmp_path, "awsfn", "--payload", '{"name": "AWS"}')[1]["body"] == \
            "Hello, AWS"
        config = json.loads(pc.out("fn", "update", "--function-name", "awsfn",
                                   "--runtime", "python3.8", "--timeout", "9"))
        assert (config["Runtime"], config["Timeout"], config["Role"]) == ("python3.8", 9, role)
        for flags, words in (
                (["--runtime", "python3.7"], "InvalidParameterValueException: The runtime "
                 "parameter of 'python3.7' is not supported"),
                (["--runtime", "nodejs20.x"], "InvalidParameterValueException: The runtime"),
                (["--role", "admin"], "InvalidParameterValueException: invalid role"),
                (["--function-name", "other"], "two names given")):
            for command in (["create", "awsnew", "--zip-file", zip_path, "--handler",
                             "main.handler"], ["update", "awsfn"]):
                assert words in one_error_line(pc("fn", *command, *flags))
        line = one_error_line(pc("fn", "create", "--zip-file", zip_path, "--handler", "m.h"))
        assert "--function-name" in line
        assert "awsnew" not in os.listdir(_functions_dir(pc))
        shown = json.loads(pc.out("fn", "get", "awsfn"))["Configuration"]
        assert (shown["Runtime"], shown["Role"]) == ("python3.8", role)
    finally:
        pc("fn", "delete", "awsfn")


def test_a_float_timeout_from_an_older_store_shows_as_an_integer(pc, function):
    """A store written before Timeout was an integer holds e.g. 3.0 or 2.5:
    get and list show integers (a fraction rounded up), and calls still run."""
    function("older")
    config_file = _functions_dir(pc) / "older" / "config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps(dict(config, Timeout=2.5, MemorySize=256.0)))
    assert _whole(json.loads(pc.out("fn", "get", "older"))["Configuration"]) == (3, 256)
    listed = json.loads(pc.out("fn", "list"))["Functions"]
    assert [_whole(f) for f in listed if f["FunctionName"] == "older"] == [(3, 256)]
    result = pc("fn", "invoke", "older", "-")
    assert result.returncode == 0 and '"statusCode": 200' in result.stdout, result.stderr
