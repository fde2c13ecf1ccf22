"""The default seccomp profile as programs meet it. Entropy: getrandom(2) is
allowed, as docker's profile allows it, in containers (`run`, `exec`), in
one-shot functions (`fn exec`, every way it starts a jail)
and in `fn serve` calls; each check also reads the profile's marks (a seccomp
filter installed, keyctl EPERM, clone3 ENOSYS), so a pass is never one without
the default profile. Sockets: every family but AF_ALG and AF_VSOCK."""
import json
import os
import platform
import re

import pytest
from helpers import created_functions
from test_fn_exec_start import MODES, run
from test_fn_serve import Server, zygote_processes

KEYCTL, CLONE3 = {"x86_64": (250, 435), "aarch64": (219, 435)}[platform.machine()]
# what the checks run: Python's entropy consumers, and the profile's marks
ENTROPY = f'''
import ctypes, json, os, secrets, socket, ssl
def attempt(what):
    try:
        return what()
    except Exception as exc:
        return f"{{type(exc).__name__}}: {{exc}}"
def check():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    def errno_of(*args):
        return ctypes.get_errno() if libc.syscall(*args) == -1 else 0
    status = dict(ln.rstrip("\\n").split(":\\t", 1) for ln in open("/proc/self/status"))
    return {{"ssl": attempt(lambda: type(ssl.create_default_context()).__name__),
            "token_hex": attempt(lambda: len(secrets.token_hex(16))),
            "getrandom": attempt(lambda: len(os.getrandom(8))),
            "seccomp": status["Seccomp"], "hostname": socket.gethostname(),
            "keyctl": errno_of({KEYCTL}, 0, 0, 0, 0, 0), "clone3": errno_of({CLONE3}, 0, 0)}}
'''
HANDLER = ENTROPY + "def handler(event, context):\n    return check()\n"
WANT = {"ssl": "SSLContext", "token_hex": 32, "getrandom": 8, "seccomp": "2",
        "keyctl": 1, "clone3": 38}


def checked(result: dict, hostname=None) -> dict:
    """result without the hostname, after checking it is hostname (if given)."""
    found = result.pop("hostname")
    assert hostname is None or found == hostname
    return result


def test_entropy_in_a_default_container(pc):
    out = pc.out("run", "--rm", "python", "python3", "-c", ENTROPY + "print(json.dumps(check()))")
    assert checked(json.loads(out)) == WANT


def test_entropy_in_exec(pc):
    cid = pc.out("run", "-d", "python", "python3", "-c", "import time; time.sleep(30)").strip()
    try:
        out = pc.out("exec", cid, "python3", "-c", ENTROPY + "print(json.dumps(check()))")
        assert checked(json.loads(out)) == WANT
    finally:
        pc("rm", "-f", cid)


def test_openssl_in_a_default_container(pc):
    """The host's openssl, bound into the python image, which holds the
    libraries it links (those of python's ssl module)."""
    if not os.path.isfile("/usr/bin/openssl"):
        pytest.fail("this test needs the host's /usr/bin/openssl (apt-get install openssl)")
    script = ("import subprocess\n"
              "status = open('/proc/self/status').read()\n"
              "print(status.split('Seccomp:')[1].split()[0], flush=True)\n"
              "for args in (['rand', '-hex', '8'], ['genpkey', '-algorithm', 'ed25519']):\n"
              "    subprocess.run(['openssl', *args], check=True)\n")
    result = pc("run", "--rm", "-v", "/usr/bin/openssl:/usr/bin/openssl:ro", "python",
                "python3", "-c", script)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"2\n[0-9a-f]{16}\n-----BEGIN PRIVATE KEY-----\n[^-]+"
                        r"-----END PRIVATE KEY-----\n", result.stdout), result.stdout


def test_sockets_of_every_family_but_af_alg_and_af_vsock(pc):
    """The filter answers EPERM for those two; for the others the kernel
    answers (a socket, or an error of its own)."""
    script = ("import json, socket\n"
              "def errno_of(family):\n"
              "    try:\n"
              "        socket.socket(family, socket.SOCK_SEQPACKET).close()\n"
              "        return 0\n"
              "    except OSError as exc:\n"
              "        return exc.errno\n"
              "print(json.dumps({f: errno_of(f) for f in (1, 37, 38, 39, 40, 41, 45)}))\n")
    found = json.loads(pc.out("run", "--rm", "python", "python3", "-c", script))
    assert [f for f, errno in found.items() if errno == 1] == ["38", "40"], found


@pytest.mark.parametrize("mode", MODES)
def test_entropy_in_fn_exec(pc, tmp_path, mode):
    """Every way `fn exec` starts a jail (see test_fn_exec_start): the
    engine's, the launcher's from the cached description, the script's."""
    code, result = run(pc, tmp_path, HANDLER, mode)
    assert code == 0, result
    assert checked(result, "localhost") == WANT


@pytest.fixture(scope="module")
def entropy_function(engine_env, tmp_path_factory):
    yield from created_functions(engine_env, tmp_path_factory.mktemp("entropy"), HANDLER,
                                 {"entropy": "app.handler"})


def test_entropy_in_fn_serve(pc, entropy_function):
    """A call's child of the zygote: the zygote's filter and the call's on top."""
    server = Server(pc)
    try:
        assert checked(server.result("entropy")) == WANT
    finally:
        assert server.stop() == 0
    assert not zygote_processes(pc.env["PYCONTAIN_ROOT"])
