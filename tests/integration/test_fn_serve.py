"""`pycontain fn serve`: boto3 against the Lambda Invoke API, real jails."""
import base64
import json
import os
import re
import signal
import socket
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from helpers import FIND_IN_MEMORY, created_functions, one_error_line, processes, wait_for

CODE = '''
import os, sys, time
COUNT = 0
def echo(event, context):
    global COUNT
    COUNT += 1
    print("log line from", context.function_name)
    before = sorted(os.listdir("/tmp"))
    open("/tmp/mine", "w").write("x")
    shm_before = sorted(os.listdir("/dev/shm"))
    open("/dev/shm/mine", "w").write("x")
    leaked = os.environ.get("LEAK")
    os.environ["LEAK"] = "1"
    return {"event": event, "count": COUNT, "tmp_before": before, "leak": leaked,
            "shm_before": shm_before, "fds": fds(),
            "pid": os.getpid(), "procs": [p for p in os.listdir("/proc") if p.isdigit()],
            "rid": context.aws_request_id}
def namespaces():
    kinds = ("user", "pid", "net", "ipc", "uts", "mnt")
    return {n: os.readlink(f"/proc/self/ns/{n}") for n in kinds}
def seccomp(event, context):
    import ctypes, platform
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    clone, keyctl = {"x86_64": (56, 250), "aarch64": (220, 219)}[platform.machine()]
    def errno_of(rc):
        if rc == 0:  # a new process (clone), or a call that should have failed
            os._exit(0) if libc.getpid() != os.getpid() else None
        return ctypes.get_errno() if rc == -1 else rc
    found = {"unshare": errno_of(libc.unshare(0x40000000)),
             "mount": errno_of(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
             "setns": errno_of(libc.setns(0, 0)),
             "clone3": errno_of(libc.syscall(435, None, 0)),
             "clone_newuser": errno_of(libc.syscall(clone, 0x10000000 | 17, 0, 0, 0, 0)),
             "keyctl": errno_of(libc.syscall(keyctl, 0, 0, 0, 0, 0))}
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    found["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return found
def fds():
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own
            pass
    return found
def listen(event, context):
    import socket
    server = socket.create_server(("127.0.0.1", 5555))
    socket.create_connection(("127.0.0.1", 5555), timeout=1).close()  # its own lo works
    time.sleep(event["sleep"])
    return namespaces()
def connect(event, context):
    import socket
    try:
        socket.create_connection(("127.0.0.1", 5555), timeout=1)
        return "connected", namespaces()
    except OSError as exc:
        return type(exc).__name__, namespaces()
def fail(event, context):
    raise ValueError("boom")
def slow(event, context):
    time.sleep(event.get("sleep", 2))
    return "slow"
def exit_(event, context):
    os._exit(3)
def segv(event, context):
    import ctypes
    ctypes.string_at(0)
def zygote_memory(event, context):
    import re
    time.sleep(event.get("sleep", 0))  # the others start meanwhile
    frame, seen = sys._getframe(), {}
    names = []
    while frame:  # what our copy of the zygote's memory holds, reachable from our stack
        names.append(frame.f_code.co_name)
        zygote = frame.f_locals.get("self")
        if hasattr(zygote, "calls") and hasattr(zygote, "early"):
            seen = {"calls": len(zygote.calls), "early": len(zygote.early)}
        frame = frame.f_back
    ids = find_in_memory(re.compile(  # and what is anywhere in the memory we wrote
        rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"))
    return dict(seen, on_demand="_start" in names, request_ids=sorted(ids))
def cgroups(event, context):
    bytearray(event.get("mb", 0) << 20)  # touched: counts in the cgroup's peak
    return open("/proc/self/cgroup").read().splitlines()
AT_IMPORT = fds()  # in the zygote, as it imports the handler's module
print("app module imported", file=sys.stderr, flush=True)
def import_fds(event, context):
    return AT_IMPORT
''' + FIND_IN_MEMORY
FUNCTIONS = {"echo": "app.echo", "fail": "app.fail", "slow": "app.slow",
             "crash-exit": "app.exit_", "crash-segv": "app.segv", "broken": "nope.handler",
             "cgroups": "app.cgroups", "listen": "app.listen", "connect": "app.connect",
             "slow-1s": "app.slow", "seccomp": "app.seccomp",
             "zygote-memory": "app.zygote_memory", "import-fds": "app.import_fds"}


@pytest.fixture(scope="module")
def functions(engine_env, tmp_path_factory):
    yield from created_functions(engine_env, tmp_path_factory.mktemp("fnserve"), CODE, FUNCTIONS,
                                 lambda name: ("--timeout", "1" if name == "slow-1s" else "10"))


class Server:
    """A running `pycontain fn serve` on a free loopback port."""

    def __init__(self, pc, *args):
        self.proc = pc.popen("fn", "serve", "--port", "0", *args)
        self.lines = []
        line = self.proc.stderr.readline()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        assert match, line + self.proc.stderr.read()
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._drain, daemon=True).start()
        self.client = boto3.client(
            "lambda", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=60,
                          max_pool_connections=64))

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def invoke(self, name, event=None, **kwargs):
        response = self.client.invoke(FunctionName=name, Payload=json.dumps(event or {}),
                                      **kwargs)
        response["Body"] = response["Payload"].read()
        return response

    def result(self, name, event=None):
        response = self.invoke(name, event)
        assert "FunctionError" not in response, response["Body"]
        return json.loads(response["Body"])

    def status(self) -> dict:
        import urllib.request
        with urllib.request.urlopen(f"{self.url}/status") as r:
            return json.load(r)

    def stop(self, timeout=20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def zygote_processes(root: str) -> list:
    """Zygotes (and the jails they keep ready) whose image layers are under the
    store root: this test's only, on a machine where other tests may run too."""
    return processes(b"zygote_main", "mountinfo", lambda mounts: root.encode() in mounts)


@pytest.fixture
def server(pc, functions):
    srv = Server(pc)
    yield srv
    assert srv.stop() == 0
    assert not zygote_processes(pc.env["PYCONTAIN_ROOT"])


def test_results_errors_and_log_tail(server):
    response = server.invoke("echo", {"name": "John"}, LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    body = json.loads(response["Body"])
    assert body["event"] == {"name": "John"}
    assert body["rid"] == response["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(response["LogResult"]).decode()
    assert "log line from echo" in log
    assert re.search(r"REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                     r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: [\d.]+ ms",
                     log), log
    failed = server.invoke("fail")
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Body"])
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "boom"
    broken = server.invoke("broken")
    assert json.loads(broken["Body"])["errorType"] == "Runtime.ImportModuleError"
    assert any(" REPORT " in f" {ln}" for ln in server.lines)
    assert any('"POST /2015-03-31/functions/echo/invocations HTTP/1.1" 200' in ln
               for ln in server.lines)


def test_event_dryrun_unknown_and_too_large(server):
    assert server.invoke("echo", InvocationType="DryRun")["StatusCode"] == 204
    calls = server.status()["functions"].get("echo", {}).get("calls", 0)
    assert server.invoke("echo", InvocationType="Event")["StatusCode"] == 202
    deadline = time.monotonic() + 10
    while server.status()["functions"].get("echo", {}).get("calls", 0) == calls:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(server.client.exceptions.ResourceNotFoundException):
        server.invoke("no-such-function")
    with pytest.raises(server.client.exceptions.RequestTooLargeException):
        server.client.invoke(FunctionName="echo", Payload=b'"' + b"x" * (6 << 20) + b'"')


def test_no_state_shared_between_calls(server):
    """Calls go to jails set up ahead of them: each still sees only its own."""
    for _ in range(5):
        body = server.result("echo")
        assert body["count"] == 1 and body["tmp_before"] == [] and body["leak"] is None
        assert body["shm_before"] == []
        assert body["pid"] == 1 and body["procs"] == ["1"]
        assert sorted(body["fds"]) == ["0", "1", "2", "3"], body["fds"]  # no zygote socket
        assert not any(t.startswith("socket:") for t in body["fds"].values()), body["fds"]


def test_the_zygote_never_has_the_servers_stderr(server):
    """The handler's module is imported in the zygote: its output goes through
    a pipe of the engine's, not the server's own stderr (which it could open
    again through /proc/self/fd/2, as a container could: see test_stdio_pipes)."""
    servers = f"pipe:[{os.fstat(server.proc.stderr.fileno()).st_ino}]"
    at_import = server.result("import-fds")
    assert at_import["1"] == at_import["2"] != servers, (at_import, servers)
    assert at_import["2"].startswith("pipe:"), at_import
    wait_for(lambda: any("app module imported" in line for line in server.lines),
             what="the zygote's own output in the server's log")


def test_calls_get_the_default_seccomp_profile(server):
    """Namespaces and mounts were the zygote's to make, not the handler's: EPERM
    (clone3 ENOSYS, as docker's profile says); a plain fork works."""
    assert server.result("seccomp") == {"unshare": 1, "mount": 1, "setns": 1, "clone3": 38,
                                        "clone_newuser": 1, "keyctl": 1, "fork": 7}


def test_concurrent_calls_cannot_reach_each_other(server):
    listening = ThreadPoolExecutor(1).submit(server.result, "listen", {"sleep": 5})
    wait_for(lambda: server.status()["in_flight"] == 1, 20, "the listening call")
    outcome, theirs = server.result("connect")
    assert outcome == "ConnectionRefusedError"  # its own loopback, where nothing listens
    ours = listening.result()
    for name in ours:  # two calls alive at once: no namespace in common
        assert ours[name] != theirs[name], name


def test_fifty_concurrent_calls(server):
    names = ["echo", "echo", "fail"]
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda i: (i, server.invoke(names[i % 3], {"i": i})),
                                  range(50)))
    for i, response in responses:
        if names[i % 3] == "echo":
            body = json.loads(response["Body"])
            assert "event" in body, body
            assert body["event"] == {"i": i} and body["count"] == 1
        else:
            assert response["FunctionError"] == "Unhandled"


def test_slow_call_does_not_block_fast_ones(server):
    server.result("echo")  # warm
    server.result("slow", {"sleep": 0})
    slow = ThreadPoolExecutor(1).submit(server.invoke, "slow", {"sleep": 3})
    wait_for(lambda: server.status()["in_flight"] == 1, 10, "the slow call")
    start = time.monotonic()
    for _ in range(5):
        server.result("echo")
    assert time.monotonic() - start < 2
    assert json.loads(slow.result()["Body"]) == "slow"


def test_call_past_its_timeout_is_killed(server):
    """The clock of a call handed to a ready jail runs from its start."""
    start = time.monotonic()
    response = server.invoke("slow-1s", {"sleep": 30})
    assert time.monotonic() - start < 10
    error = json.loads(response["Body"])
    assert error["errorType"] == "Sandbox.Timedout", error
    assert server.result("echo")["count"] == 1


def test_crashing_handler_fails_that_call_only(server):
    server.result("echo")
    pid = server.status()["functions"]["echo"]["zygote_pid"]
    for name, reason in (("crash-exit", "exit status 3"), ("crash-segv", "signal: 11")):
        response = server.invoke(name)
        error = json.loads(response["Body"])
        assert response["FunctionError"] == "Unhandled"
        assert error["errorType"] == "Runtime.ExitError" and reason in error["errorMessage"]
    assert server.result("echo")["count"] == 1
    assert server.status()["functions"]["echo"]["zygote_pid"] == pid


def test_dead_zygote_is_respawned_and_update_replaces_it(server, functions, tmp_path):
    server.result("echo")
    pid = server.status()["functions"]["echo"]["zygote_pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: server.status()["functions"]["echo"]["zygote_pid"] != pid, 10,
             "the server to see its zygote die")
    assert server.result("echo")["count"] == 1
    new_pid = server.status()["functions"]["echo"]["zygote_pid"]
    assert new_pid != pid
    zip_path = tmp_path / "v2.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr("app.py", CODE + "\ndef echo(event, context):\n    return 'v2'\n")
    functions.out("fn", "update", "echo", "--zip-file", zip_path)
    try:
        assert server.result("echo") == "v2"
        assert server.status()["functions"]["echo"]["zygote_pid"] != new_pid
    finally:
        with zipfile.ZipFile(zip_path, "w") as z:
            z.writestr("app.py", CODE)
        functions.out("fn", "update", "echo", "--zip-file", zip_path)


def test_over_concurrency_is_429_or_queued(pc, functions):
    srv = Server(pc, "--max-concurrency", "1", "--queue-timeout", "0")
    try:
        slow = ThreadPoolExecutor(1).submit(srv.invoke, "slow", {"sleep": 2})
        wait_for(lambda: srv.status()["in_flight"] == 1, 20, "the slow call")
        with pytest.raises(srv.client.exceptions.TooManyRequestsException):
            srv.invoke("echo")
        assert json.loads(slow.result()["Body"]) == "slow"
    finally:
        assert srv.stop() == 0
    srv = Server(pc, "--max-concurrency", "1", "--queue-timeout", "10")
    try:
        slow = ThreadPoolExecutor(1).submit(srv.invoke, "slow", {"sleep": 1})
        wait_for(lambda: srv.status()["in_flight"] == 1, 20, "the slow call")
        assert srv.result("echo")["count"] == 1  # waited for the slot
        slow.result()
    finally:
        assert srv.stop() == 0


def test_reserved_concurrency_limits_one_function_only(pc, functions):
    functions.out("fn", "update", "slow", "--concurrency", "1")
    srv = Server(pc, "--queue-timeout", "0")
    try:
        slow = ThreadPoolExecutor(1).submit(srv.invoke, "slow", {"sleep": 2})
        wait_for(lambda: srv.status()["in_flight"] == 1, 20, "the slow call")
        with pytest.raises(srv.client.exceptions.TooManyRequestsException):
            srv.invoke("slow", {"sleep": 0})
        assert srv.result("echo")["count"] == 1  # other functions are not held back
        assert json.loads(slow.result()["Body"]) == "slow"
        assert json.loads(srv.invoke("slow", {"sleep": 0})["Body"]) == "slow"  # slot freed
    finally:
        assert srv.stop() == 0
        functions.out("fn", "update", "slow", "--concurrency", "1000")


def test_each_call_runs_in_a_pooled_cgroup_with_the_memory_limit(server, pc):
    """v1 hosts (this one): a call joins a pre-created cgroup of its function's pool."""
    first = server.result("cgroups")
    memory = next(line for line in first if ":memory:" in line)
    assert f"/{pc.env['PYCONTAIN_CGROUP_PARENT']}/fn" in memory, first
    # pooled, not made per call: a cgroup goes back once its call's processes are
    # gone (that may be after the answer, so the next call can take another one)
    seen = {tuple(server.result("cgroups")) for _ in range(20)}
    assert len(seen) <= 8, seen
    limit = os.path.join("/sys/fs/cgroup/memory", memory.split(":", 2)[2].lstrip("/"),
                         "memory.limit_in_bytes")
    assert int(open(limit).read()) == 128 << 20  # the function's Memory Size
    response = server.invoke("cgroups", {"mb": 40}, LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    used = int(re.search(r"Max Memory Used: (\d+) MB", log).group(1))
    assert 40 <= used <= 128 and "Limits: cgroup+rlimit" in log, log


def test_a_jail_cloned_on_demand_holds_nothing_of_the_other_calls(pc, functions):
    """With no spares, the zygote clones each call's jail itself, from its own
    memory: the ids, pids and outcomes it keeps of the calls in flight are
    dropped in the copy before the handler runs."""
    srv = Server(pc, "--spares", "0")
    try:
        with ThreadPoolExecutor(4) as pool:
            earlier = list(pool.map(lambda _: srv.invoke("zygote-memory", {"sleep": 0.5}),
                                    range(4)))
        last = srv.invoke("zygote-memory")
        seen = [json.loads(r["Body"]) for r in earlier + [last]]
        assert [(s["calls"], s["early"], s["on_demand"]) for s in seen] == [(0, 0, True)] * 5
        ours = last["ResponseMetadata"]["RequestId"]
        assert ours in seen[-1]["request_ids"]  # the scan finds what is in memory
        others = {r["ResponseMetadata"]["RequestId"] for r in earlier}
        assert not others & set(seen[-1]["request_ids"]), seen[-1]
    finally:
        assert srv.stop() == 0
    assert not zygote_processes(pc.env["PYCONTAIN_ROOT"])


def test_shutdown_during_calls_leaves_nothing(pc, functions):
    srv = Server(pc)
    srv.result("echo")
    calls = ThreadPoolExecutor(3).map(lambda _: srv.invoke("slow", {"sleep": 30}), range(3))
    wait_for(lambda: srv.status()["in_flight"] == 3, 20, "three calls in flight")
    assert zygote_processes(pc.env["PYCONTAIN_ROOT"])
    start = time.monotonic()
    assert srv.stop() == 0
    assert time.monotonic() - start < 15
    for response in calls:  # cancelled: the zygote (and so every jail) was killed
        assert response["FunctionError"] == "Unhandled"
    assert not zygote_processes(pc.env["PYCONTAIN_ROOT"])


def test_refuses_to_bind_other_than_loopback(pc):
    result = pc("fn", "serve", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 125 and "loopback" in result.stderr


def test_a_port_in_use_is_one_line(pc):
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        port = taken.getsockname()[1]
        line = one_error_line(pc("fn", "serve", "--port", port, timeout=30))
        assert line == f"pycontain: fn serve cannot listen on 127.0.0.1:{port}: " \
            "Address already in use", line
    finally:
        taken.close()
    line = one_error_line(pc("fn", "serve", "--port", "65536"))
    assert "65536" in line and "Traceback" not in line
