"""Real programs under pycontain's defaults: a database server (PostgreSQL),
Node.js and curl in a default container, and a handler using what functions
use (sqlite3 in WAL mode, ssl, a loopback HTTP server, a multiprocessing pool,
a temporary directory) in `fn exec` and `fn serve`. The programs are the
host's, bound read-only into the python image (which has no /bin and no
libraries beyond python's): what is tested is the jail around them (seccomp,
capabilities, masks, /dev, /dev/shm, /tmp, the namespaces), which a default
that breaks a real program shows here first. Containers as root and rootless."""
import glob
import json
import shutil

import pytest
from helpers import created_functions
from test_fn_exec_start import run
from test_fn_serve import Server, zygote_processes
from test_rootless import rootless, user  # noqa: F401 - the test user and its store

HOST_USR = ["-v", "/usr:/usr:ro", "-v", "/usr/bin:/bin:ro"]  # /bin/sh for popen(3)


@pytest.fixture(params=["root", "rootless"])
def engine(request):
    """pycontain run as root, and as a normal user."""
    if request.param == "root":
        return request.getfixturevalue("pc")
    return request.getfixturevalue("rootless").pc


def need(program: str) -> str:
    path = shutil.which(program) or next(iter(glob.glob(program)), None)
    if path is None:  # test.sh installs them: a missing one is a broken set-up
        pytest.fail(f"this test needs the host's {program} (see test.sh's TEST_PACKAGES)")
    return path


def test_postgresql_in_a_default_container(engine):
    """initdb, a server (shared memory in /dev/shm, semaphores in the ipc
    namespace), queries over its unix socket and loopback TCP, a clean stop,
    as an unprivileged user (PostgreSQL refuses root)."""
    bindir = need("/usr/lib/postgresql/*/bin")
    script = (f"set -e; {bindir}/initdb -D /tmp/pg -A trust -U postgres >/dev/null; "
              f"{bindir}/pg_ctl -D /tmp/pg -w -l /tmp/pg.log -o "
              "'-k /tmp -c listen_addresses=127.0.0.1 -c shared_buffers=16MB' start >/dev/null; "
              "psql -h /tmp -U postgres -tAc 'create table t (a int); insert into t "
              "select generate_series(1, 1000); select sum(a) from t'; "
              "psql -h 127.0.0.1 -U postgres -tAc 'select count(*) from t'; "
              f"{bindir}/pg_ctl -D /tmp/pg -m fast -w stop >/dev/null")
    result = engine("run", "--rm", "--user", "65534:65534", *HOST_USR, "python",
                "sh", "-c", script, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["CREATE", "TABLE", "INSERT", "0", "1000", "500500", "1000"]


NODE = """
const crypto = require('crypto'), http = require('http'), fs = require('fs');
const {spawnSync} = require('child_process'), {Worker} = require('worker_threads');
const server = http.createServer((req, res) => res.end('pong')).listen(0, '127.0.0.1', async () => {
  const text = await (await fetch(`http://127.0.0.1:${server.address().port}/`)).text();
  server.close();
  fs.writeFileSync('/tmp/n', crypto.randomBytes(8).toString('hex'));
  const worker = new Worker('require("worker_threads").parentPort.postMessage(6 * 7)', {eval: true});
  worker.on('message', (n) => console.log(JSON.stringify({
    http: text, hex: fs.readFileSync('/tmp/n', 'utf8').length, worker: n,
    child: spawnSync(process.execPath, ['-e', 'process.stdout.write("ok")']).stdout.toString(),
    sha: crypto.createHash('sha256').update('x').digest('hex').slice(0, 8)})));
});
"""

def test_node_in_a_default_container(engine):
    """Node.js (libuv's threads and its io_uring probe, V8's JIT) serving and
    fetching on loopback, a worker thread, a child process, crypto."""
    need("node")
    result = engine("run", "--rm", *HOST_USR, "python", "node", "-e", NODE, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"http": "pong", "hex": 16, "worker": 42,
                                         "child": "ok", "sha": "2d711642"}


def test_curl_in_a_default_container(engine):
    """curl fetching from a server in the same container, over loopback."""
    need("curl")
    script = ("python3 -m http.server -b 127.0.0.1 8000 -d /etc >/dev/null 2>&1 & "
              "for i in $(seq 50); do curl -sf http://127.0.0.1:8000/hostname && exit 0; "
              "sleep 0.1; done; exit 7")
    result = engine("run", "--rm", "--hostname", "curled", *HOST_USR, "python", "sh", "-c",
                    script, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "curled"


HANDLER = """
import http.server, multiprocessing, sqlite3, ssl, tempfile, threading, urllib.request
def handler(event, context):
    db = sqlite3.connect("/tmp/calls.db")
    db.execute("pragma journal_mode=wal")
    db.execute("create table t (a)")  # fails if /tmp held an earlier call's database
    db.executemany("insert into t values (?)", [(i,) for i in range(1000)])
    db.commit()
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    status = urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/").status
    with multiprocessing.Pool(2) as pool:
        squares = pool.map(abs, [-3, -4])
    return {"sum": db.execute("select sum(a) from t").fetchone()[0], "http": status,
            "pool": squares, "tls": ssl.create_default_context().verify_mode.name,
            "tmp": tempfile.mkdtemp().startswith("/tmp/")}
"""
WANT = {"sum": 499500, "http": 200, "pool": [3, 4], "tls": "CERT_REQUIRED", "tmp": True}


def test_what_handlers_use_in_fn_exec(pc, tmp_path):
    code, result = run(pc, tmp_path, HANDLER)
    assert code == 0, result
    assert result == WANT


@pytest.fixture(scope="module")
def program_function(engine_env, tmp_path_factory):
    yield from created_functions(engine_env, tmp_path_factory.mktemp("programs"), HANDLER,
                                 {"programs": "app.handler"}, lambda name: ("--memory", "256m"))


def test_what_handlers_use_in_fn_serve(pc, program_function):
    """Twice: each call's /tmp is its own (the table is created anew)."""
    server = Server(pc)
    try:
        assert [server.result("programs") for _ in range(2)] == [WANT, WANT]
    finally:
        assert server.stop() == 0
    assert not zygote_processes(pc.env["PYCONTAIN_ROOT"])
