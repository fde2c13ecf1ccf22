"""`pycontain fn exec`: the Lambda handler contract in a fresh jail, as root."""
import json
import os
import socket
import stat
import subprocess
import sys
import time

import pytest
from conftest import PYCONTAIN
from helpers import processes, wait_for

from pycontain.fn.jail import SANDBOX_UID_BASE

SEED = '{"name": "John Doe"}'


@pytest.fixture
def handler(tmp_path):
    """Write handler code to tmp_path/NAME.py (world-readable) and return its path."""
    def write(code: str, name: str = "handler") -> str:
        path = tmp_path / f"{name}.py"
        path.write_text(code)
        path.chmod(0o644)
        return str(path)
    return write


def fn_exec(pc, path, *args, **kwargs):
    return pc("fn", "exec", path, *args, **kwargs)


def ok(result) -> object:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def failed(result, code: int = 1) -> dict:
    assert result.returncode == code, (result.stdout, result.stderr)
    return json.loads(result.stdout)


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None, True]}, [1, "two"], "text", None, 7])
def test_results_are_json(pc, handler, value):
    path = handler(f"def handler(event, context):\n    return {value!r}\n")
    assert ok(fn_exec(pc, path)) == value


def test_seed_event_from_flag_file_and_stdin(pc, handler, tmp_path):
    path = handler("def handler(event, context):\n"
                   "    return {'greeting': 'Hello, ' + event['name']}\n")
    want = {"greeting": "Hello, John Doe"}
    assert ok(fn_exec(pc, path, "--event", SEED)) == want
    (tmp_path / "event.json").write_text(SEED)
    assert ok(fn_exec(pc, path, "--event", f"@{tmp_path / 'event.json'}")) == want
    assert ok(fn_exec(pc, path, "--event", "-", input=SEED)) == want


def test_prints_go_to_the_log_not_the_result(pc, handler):
    path = handler("import sys\ndef handler(event, context):\n"
                   "    print('to stdout')\n    print('to stderr', file=sys.stderr)\n"
                   "    return 1\n")
    result = fn_exec(pc, path)
    assert result.stdout == "1\n"
    assert "to stdout" in result.stderr and "to stderr" in result.stderr
    assert "REPORT RequestId:" in result.stderr and "Limits: rlimit" in result.stderr


def test_lambda_context_and_environment(pc, handler):
    path = handler("import os\ndef lh(event, context):\n"
                   "    keys = ['AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',\n"
                   "            'AWS_LAMBDA_FUNCTION_TIMEOUT', 'LAMBDA_TASK_ROOT', '_HANDLER',\n"
                   "            'AWS_REGION', 'GREETING']\n"
                   "    c = context\n"
                   "    return {'env': {k: os.environ.get(k) for k in keys},\n"
                   "            'ctx': [c.function_name, c.function_version, c.memory_limit_in_mb,\n"
                   "                    c.invoked_function_arn, len(c.aws_request_id),\n"
                   "                    c.log_group_name, c.identity, c.client_context],\n"
                   "            'remaining': c.get_remaining_time_in_millis(),\n"
                   "            'cwd': os.getcwd(),\n"
                   "            'internal': [k for k in os.environ if k.startswith('_PYCONTAIN')]}\n",
                   name="app")
    out = ok(fn_exec(pc, path, "--handler", "lh", "--memory", "256m", "--timeout", "5",
                     "--env", "GREETING=hi"))
    assert out["env"] == {"AWS_LAMBDA_FUNCTION_NAME": "app",
                          "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                          "AWS_LAMBDA_FUNCTION_TIMEOUT": "5", "LAMBDA_TASK_ROOT": "/var/task",
                          "_HANDLER": "app.lh", "AWS_REGION": "us-east-1", "GREETING": "hi"}
    assert out["ctx"] == ["app", "$LATEST", "256",
                          "arn:aws:lambda:us-east-1:000000000000:function:app", 36,
                          "/aws/lambda/app", None, None]
    assert 3000 < out["remaining"] <= 5000
    assert out["cwd"] == "/var/task" and out["internal"] == []


def test_handler_exception(pc, handler):
    path = handler("def handler(event, context):\n    raise ValueError('boom')\n")
    err = failed(fn_exec(pc, path))
    assert err["errorType"] == "ValueError" and err["errorMessage"] == "boom"
    assert len(err["requestId"]) == 36
    assert any("raise ValueError" in line for line in err["stackTrace"])
    assert "/var/runtime" not in "".join(err["stackTrace"])


@pytest.mark.parametrize("code, flags, error_type, message", [
    ("def handler(e, c):\n    return 1\n", ["--handler", "missing"], "Runtime.HandlerNotFound",
     "Handler 'missing' missing on module 'handler'"),
    ("def handler(e, c)\n    return 1\n", [], "Runtime.UserCodeSyntaxError",
     "Syntax error in module 'handler'"),
    ("import no_such_module\n", [], "Runtime.ImportModuleError",
     "Unable to import module 'handler': No module named 'no_such_module'"),
    ("def handler(e, c):\n    return {1, 2}\n", [], "Runtime.MarshalError",
     "Unable to marshal response: Object of type set is not JSON serializable"),
    ("def handler(e, c):\n    import os; os._exit(3)\n", [], "Runtime.ExitError",
     "Runtime exited with error: exit status 3"),
])
def test_runtime_errors(pc, handler, code, flags, error_type, message):
    err = failed(fn_exec(pc, handler(code), *flags))
    assert err["errorType"] == error_type
    assert message in err["errorMessage"]


def test_module_missing_from_directory(pc, tmp_path):
    tmp_path.chmod(0o755)
    err = failed(fn_exec(pc, str(tmp_path), "--handler", "main.handler"))
    assert err["errorType"] == "Runtime.ImportModuleError"
    assert err["errorMessage"] == "Unable to import module 'main': No module named 'main'"


def test_oversized_response(pc, handler):
    err = failed(fn_exec(pc, handler("def handler(e, c):\n    return 'x' * (7 << 20)\n"),
                         "--memory", "512m"))
    assert err["errorType"] == "Function.ResponseSizeTooLarge"


def test_unreadable_code_fails_like_lambda(pc, handler):
    path = handler("def handler(e, c):\n    return 1\n")
    os.chmod(path, 0o600)
    result = fn_exec(pc, path)
    assert "not world-readable" in result.stderr
    err = failed(result)
    assert err["errorType"] == "Runtime.ImportModuleError" and "Permission denied" in \
        err["errorMessage"]


def test_bad_requests(pc, handler, tmp_path):
    path = handler("def handler(e, c):\n    return e\n")
    err = failed(fn_exec(pc, path, "--event", "{not json"), 2)
    assert err["errorType"] == "Runtime.UnmarshalError"
    big = tmp_path / "big.json"
    big.write_text('"' + "x" * (6 * 1024 * 1024) + '"')
    err = failed(fn_exec(pc, path, "--event", f"@{big}"), 2)
    assert err["errorType"] == "RequestTooLargeException"


@pytest.mark.parametrize("args, message", [
    (["/nonexistent/handler.py"], "no such file or directory"),
    (["HANDLER", "--memory", "12m"], "out of range"),
    (["HANDLER", "--timeout", "0"], "out of range"),
    (["HANDLER", "--env", "AWS_REGION=x"], "reserved"),
    (["HANDLER", "--image", "no-such-image"], "no-such-image"),
])
def test_engine_errors(pc, handler, args, message):
    path = handler("def handler(e, c):\n    return 1\n")
    result = pc("fn", "exec", *[path if a == "HANDLER" else a for a in args])
    assert result.returncode == 125, result.stderr
    assert result.stderr.startswith("pycontain: ") and message in result.stderr
    assert result.stdout == ""


def test_timeout_kills_the_jail(pc, handler):
    path = handler("import os\ndef handler(e, c):\n    os.fork()\n    while True:\n        pass\n")
    start = time.monotonic()
    err = failed(fn_exec(pc, path, "--timeout", "1"), 124)
    assert time.monotonic() - start < 2.0
    assert err["errorType"] == "Sandbox.Timedout"
    assert err["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_memory_hog_is_stopped(pc, handler):
    path = handler("def handler(e, c):\n    return len(bytearray(512 * 1024 * 1024))\n")
    err = failed(fn_exec(pc, path, "--memory", "128m"))
    assert err["errorType"] == "Runtime.OutOfMemory"
    assert ok(fn_exec(pc, path, "--memory", "1g")) == 512 * 1024 * 1024


def test_no_network_unless_asked(pc, handler):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        path = handler("import socket\ndef handler(e, c):\n"
                       "    try:\n"
                       f"        socket.create_connection(('127.0.0.1', {server.getsockname()[1]}),"
                       " timeout=2).close()\n"
                       "    except OSError as exc:\n        return type(exc).__name__\n"
                       "    return 'connected'\n")
        assert ok(fn_exec(pc, path)) == "ConnectionRefusedError"
        assert ok(fn_exec(pc, path, "--network")) == "connected"
    finally:
        server.close()


def test_network_jail_has_the_hosts_resolver_files(npc, handler):
    """With --network, the jail sees the host's /etc/resolv.conf and /etc/hosts
    (read-only), so names resolve as on the host. The network here is the
    test's own namespace (lo only): no query can leave the machine."""
    path = handler("import socket\ndef handler(e, c):\n"
                   "    lines = open('/etc/resolv.conf').read().splitlines()\n"
                   "    found = socket.getaddrinfo('localhost', 80, socket.AF_INET)\n"
                   "    try:\n        open('/etc/resolv.conf', 'a').close()\n"
                   "        writable = True\n    except OSError:\n        writable = False\n"
                   "    return {'servers': [ln for ln in lines if ln.startswith('nameserver')],\n"
                   "            'localhost': sorted({a[4][0] for a in found}),\n"
                   "            'writable': writable}\n")
    with open("/etc/resolv.conf") as f:
        servers = [ln for ln in f.read().splitlines() if ln.startswith("nameserver")]
    assert servers, "the host has no name server to compare with"
    assert ok(fn_exec(npc, path, "--network")) == {"servers": servers,
                                                   "localhost": ["127.0.0.1"],
                                                   "writable": False}


def test_read_only_code_and_root(pc, handler):
    path = handler("def handler(e, c):\n    out = {}\n"
                   "    for p in ('/var/task/new.py', '/var/task/handler.py', '/usr/x', '/x'):\n"
                   "        try:\n            open(p, 'a').close()\n            out[p] = 'written'\n"
                   "        except OSError as exc:\n            out[p] = exc.errno\n"
                   "    return out\n")
    assert set(ok(fn_exec(pc, path)).values()) <= {30, 13}  # EROFS, EACCES


def test_device_nodes_cannot_be_opened(pc, tmp_path):
    """One in the code (made on the host, mode 0666), and those the handler
    tries to make: a jail has no cgroup, so its mounts are all nodev and the
    handler has no CAP_MKNOD. Twice: the second call runs from the cached description
    (fn.oneshot.description_cache)."""
    tmp_path.chmod(0o755)
    os.mknod(tmp_path / "kvm", 0o666 | stat.S_IFCHR, os.makedev(10, 232))
    (tmp_path / "main.py").write_text(
        "import os\ndef handler(e, c):\n    out = {}\n"
        "    for p in ('/tmp/c', '/dev/shm/c', '/var/task/kvm'):\n"
        "        try:\n            if not os.path.exists(p):\n"
        "                os.mknod(p, 0o20666, os.makedev(10, 232))\n"
        "            os.close(os.open(p, os.O_RDONLY))\n            out[p] = 'opened'\n"
        "        except OSError as exc:\n            out[p] = exc.errno\n"
        "    return out\n")
    (tmp_path / "main.py").chmod(0o644)
    for _ in range(2):
        assert ok(fn_exec(pc, str(tmp_path), "--handler", "main.handler")) == {
            "/tmp/c": 1, "/dev/shm/c": 1, "/var/task/kvm": 13}  # EPERM (mknod), EACCES


def test_tmp_is_fresh_and_empty_every_call(pc, handler):
    path = handler("import os\ndef handler(e, c):\n    before = os.listdir('/tmp')\n"
                   "    open('/tmp/leftover', 'w').write('x')\n"
                   "    return [before, os.statvfs('/tmp').f_blocks * os.statvfs('/tmp').f_bsize]\n")
    for _ in range(2):
        before, size = ok(fn_exec(pc, path))
        assert before == [] and size == 512 * 1024 * 1024


def test_caller_files_env_and_fds_stay_out(pc, handler, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    path = handler("import os\ndef handler(e, c):\n"
                   "    fds = {}\n    for fd in os.listdir('/proc/self/fd'):\n"
                   "        try:\n            fds[fd] = os.readlink(f'/proc/self/fd/{fd}')\n"
                   "        except OSError:\n            pass  # listdir's own fd, closed by now\n"
                   f"    return {{'secret': os.path.exists({str(secret)!r}),\n"
                   "            'task': sorted(os.listdir('/var/task')),\n"
                   "            'env': 'CALLER_SECRET' in os.environ, 'fds': fds,\n"
                   "            'status': [l for l in open('/proc/self/status')\n"
                   "                       if l.split(':')[0] in ('Uid', 'CapEff', 'CapPrm', 'NoNewPrivs')]}\n")
    pc.env = dict(pc.env, CALLER_SECRET="1")
    with open(secret) as held:  # an open descriptor the caller passes down
        proc = pc.popen("fn", "exec", path, pass_fds=[held.fileno()])
        stdout, stderr = proc.communicate(timeout=60)
    out = ok(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    assert out["secret"] is False and out["env"] is False
    assert sorted(out["task"]) == ["__pycache__", "handler.py"]  # the handler's bytecode
    assert not any("secret" in target for target in out["fds"].values())
    assert len(out["fds"]) <= 4  # 0-2 and the result pipe
    status = dict(line.split(":", 1) for line in out["status"])
    assert int(status["Uid"].split()[0]) > SANDBOX_UID_BASE  # a uid of its own (test_fn_uids)
    assert status["CapEff"].strip() == status["CapPrm"].strip() == "0000000000000000"
    assert status["NoNewPrivs"].strip() == "1"


def running_call(pc, path):
    """`fn exec PATH` (60 s timeout), once its handler has printed 'started'."""
    proc = pc.popen("fn", "exec", path, "--timeout", "60")
    for line in proc.stderr:
        if "started" in line:
            break
    return proc


def test_interrupt_kills_the_jail(pc, handler):
    path = handler("def handler(e, c):\n    print('started', flush=True)\n"
                   "    while True:\n        pass\n")
    proc = running_call(pc, path)
    proc.send_signal(2)  # SIGINT, as Ctrl-C; the fixture checks no jail process is left
    assert proc.wait(timeout=10) == 130
    proc.stdout.close()
    proc.stderr.close()


def test_handler_module_may_be_called_runner(pc, handler):
    assert ok(fn_exec(pc, handler("def handler(e, c):\n    return __file__\n", name="runner"))) \
        == "/var/task/runner.py"


def test_single_file_handler_comes_with_bytecode_python_accepts(pc, handler):
    """The handler's bytecode, bound read-only where python's import looks for it,
    checked against a hash of the source (so the jail's python uses it instead of
    compiling the handler on every call)."""
    path = handler("import _imp, os, sys\n"
                   "import _frozen_importlib_external as b\n"
                   "def handler(e, c):\n"
                   "    pyc = sys.modules[__name__].__spec__.cached\n"
                   "    with open(pyc, 'rb') as f:\n"
                   "        header = f.read(16)\n"
                   "    with open(__file__, 'rb') as f:\n"
                   "        digest = _imp.source_hash(b._RAW_MAGIC_NUMBER, f.read())\n"
                   "    return [pyc, header[:4] == b.MAGIC_NUMBER, header[4],\n"
                   "            header[8:] == digest,\n"
                   "            os.access(pyc, os.W_OK)]\n")
    tag = sys.implementation.cache_tag
    assert ok(fn_exec(pc, path)) == [f"/var/task/__pycache__/handler.{tag}.pyc", True, 3, True,
                                     False]


def test_an_edited_handler_runs_its_new_code(pc, handler):
    """Even an edit that keeps the file's size and modification time."""
    path = handler("def handler(e, c):\n    return 'A'\n")
    assert ok(fn_exec(pc, path)) == "A"
    st = os.stat(path)
    handler("def handler(e, c):\n    return 'B'\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert ok(fn_exec(pc, path)) == "B"


def test_a_killed_engine_takes_the_jail_with_it(pc, handler):
    """SIGKILL leaves the engine no say: the jail, whose handler runs as another
    user (which disarms a parent-death signal), armed it again itself."""
    path = handler("import time\ndef handler(e, c):\n    print('started', flush=True)\n"
                   "    time.sleep(60)\n")
    proc = running_call(pc, path)
    proc.kill()
    proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()
    store = str(pc.root).encode()
    wait_for(lambda: not processes(b"python3", "mountinfo", lambda mounts: store in mounts), 5,
             "the jail to die with its engine")


def test_a_fifo_for_a_handler_does_not_hang_the_engine(pc, tmp_path):
    """The engine reads a single-file handler to cache its bytecode, but only a
    regular file: a FIFO is left to the jail's python, which imports none."""
    fifo = tmp_path / "handler.py"
    os.mkfifo(fifo, 0o644)
    assert failed(fn_exec(pc, str(fifo), timeout=30))["errorType"] == "Runtime.ImportModuleError"


def test_the_cached_bytecode_does_not_show_the_host_path(pc, handler, tmp_path):
    path = handler("import sys\ndef handler(e, c):\n"
                   "    with open(sys.modules[__name__].__spec__.cached, 'rb') as f:\n"
                   "        return f.read().decode('latin-1')\n")
    pyc = ok(fn_exec(pc, path))
    assert "/var/task/handler.py" in pyc and str(tmp_path) not in pyc


def test_closed_standard_input_is_fine(pc, handler):
    path = handler("def handler(e, c):\n    return 'ok'\n")
    result = subprocess.run([PYCONTAIN, "fn", "exec", path], env=pc.env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=60, preexec_fn=lambda: os.close(0))
    assert (result.returncode, result.stdout) == (0, '"ok"\n'), result.stderr
