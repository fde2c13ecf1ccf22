"""Functions without sudo: the jail's guarantees hold in a user namespace too."""
import json
import zipfile

from test_rootless import rootless, user  # noqa: F401 - the test user and its store

PROBE = """import os, socket
def handler(event, context):
    out = {}
    for p in ('/var/task/x', '/x'):
        try:
            open(p, 'w')
            out[p] = 'written'
        except OSError as exc:
            out[p] = exc.errno
    try:
        socket.create_connection(('127.0.0.1', 22), timeout=1)
        out['net'] = 'connected'
    except OSError as exc:
        out['net'] = type(exc).__name__
    out['tmp'] = os.listdir('/tmp')
    out['status'] = [l.split()[1] for l in open('/proc/self/status')
                     if l.startswith(('CapEff', 'NoNewPrivs', 'Seccomp:'))]
    out['home'] = os.path.exists(os.environ.get('CALLER_HOME', '/nonexistent'))
    return out
"""


def write(rootless, name: str, code: str) -> str:
    path = rootless.home / name
    path.write_text(code)
    path.chmod(0o644)
    return str(path)


def test_jail_without_sudo(rootless):
    out = rootless.pc("fn", "exec", write(rootless, "probe.py", PROBE), "--env",
                      f"CALLER_HOME={rootless.home}")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["/var/task/x"] == result["/x"] == 30  # EROFS
    assert result["net"] == "ConnectionRefusedError" and result["tmp"] == []
    assert result["status"] == ["0000000000000000", "1", "2"]
    assert result["home"] is False


def test_timeout_without_sudo(rootless):
    path = write(rootless, "loop.py", "def handler(e, c):\n    while True:\n        pass\n")
    out = rootless.pc("fn", "exec", path, "--timeout", "1")
    assert out.returncode == 124
    assert json.loads(out.stdout)["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_package_round_trip_without_sudo(rootless):
    zip_path = rootless.home / "function.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("main.py", "def handler(e, c):\n    return 'Hello, ' + e['name']\n")
    zip_path.chmod(0o644)
    created = rootless.pc("fn", "create", "hello", "--zip-file", zip_path, "--handler",
                          "main.handler")
    assert created.returncode == 0, created.stderr
    try:
        out = rootless.pc("fn", "invoke", "hello", "--payload", '{"name": "John Doe"}',
                          rootless.home / "out.json")
        assert out.returncode == 0, out.stderr
        assert json.loads((rootless.home / "out.json").read_text()) == "Hello, John Doe"
    finally:
        rootless.pc("fn", "delete", "hello")
