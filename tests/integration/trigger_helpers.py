"""Shared by the event source tests: a private store with functions, and a
recording stand-in for fn serve's pool (the delivery semantics under test
are the triggers'; test_fn_triggers_serve runs real jails end to end)."""
import contextlib
import json
import os
import threading
import time
import zipfile

import pytest

from pycontain.fn.outcome import Outcome


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A private data root with functions f and g."""
    monkeypatch.setenv("PYCONTAIN_ROOT", str(tmp_path / "data"))
    from pycontain.fn.registry import functions
    code = tmp_path / "code.zip"
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("main.py", "def handler(event, context):\n    return event\n")
    for name in ("f", "g"):
        functions.create(name, str(code), "main.handler")
    return tmp_path


class Recorder:
    """invoke(name, event, request_id) -> Outcome; answer(name, event, n) decides
    the result of the n-th call (a dict, or an Exception for a function error)."""

    def __init__(self, answer=None, delay: float = 0.0):
        self.calls, self.lock = [], threading.Lock()
        self.answer, self.delay = answer, delay
        self.in_flight = self.max_in_flight = 0

    def __call__(self, name, event, request_id):
        with self.lock:
            self.calls.append((name, json.loads(event), request_id))
            n = len(self.calls)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            result = self.answer(name, json.loads(event), n) if self.answer else None
            if isinstance(result, Exception):
                return Outcome(request_id=request_id, function_error="Unhandled",
                               exit_code=1, payload=json.dumps(
                                   {"errorMessage": str(result),
                                    "errorType": type(result).__name__}).encode())
            return Outcome(request_id=request_id, payload=json.dumps(result).encode())
        finally:
            with self.lock:
                self.in_flight -= 1

    def events(self):
        with self.lock:
            return [event for _, event, _ in self.calls]


def wait_until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def data_dir(tmp_path) -> str:
    return os.path.join(tmp_path, "data")


class NodeDied(Exception):
    """The node exited while starting (its log's end is the message)."""


@pytest.fixture(scope="session")
def rabbitmq():
    """A private rabbitmq-server node on loopback: its AMQP port. A node that dies
    while starting (its distribution or epmd port taken meanwhile on a busy
    machine: the ports are picked free, then bound by another process) is
    started again on other ports, twice at most."""
    import shutil
    if not shutil.which("rabbitmq-server"):
        pytest.fail("rabbitmq-server is missing: ./test.sh installs it")
    for attempt in range(3):
        node = rabbitmq_node()
        try:
            port = node.__enter__()
        except NodeDied:
            if attempt == 2:
                raise
            continue
        try:
            yield port
        finally:
            node.__exit__(None, None, None)
        return


@contextlib.contextmanager
def rabbitmq_node():
    """A private rabbitmq-server node on loopback (as its own user, in
    directories it owns, with an epmd of its own): its AMQP port. Also used
    by bench/fn_triggers.py."""
    import shutil
    import signal
    import subprocess
    import tempfile
    from pathlib import Path
    base = Path(tempfile.mkdtemp(prefix="pycontain-test-rabbitmq-"))  # the node's user
    os.chmod(base, 0o755)                                         # must reach it
    for sub in ("mnesia", "log", "home"):
        (base / sub).mkdir()
    (base / "plugins").write_text("[].\n")
    subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(base)], check=True)
    port, dist, epmd = free_port(), free_port(), free_port()
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(base / "home"),
           "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
           "RABBITMQ_PID_FILE": str(base / "pid"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "plugins"),
           "RABBITMQ_NODENAME": f"pycontain{port}@localhost",
           "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(port),
           "RABBITMQ_DIST_PORT": str(dist), "ERL_EPMD_ADDRESS": "127.0.0.1",
           "ERL_EPMD_PORT": str(epmd), "RABBITMQ_CONF_ENV_FILE": str(base / "none.conf"),
           "RABBITMQ_CONFIG_FILE": str(base / "none"),
           "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "none-advanced.config")}
    log = open(base / "server.out", "wb")
    server = subprocess.Popen(["/usr/lib/rabbitmq/bin/rabbitmq-server"], env=env,
                              user="rabbitmq", group="rabbitmq", cwd=base,
                              start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        import pika
        params = pika.ConnectionParameters("127.0.0.1", port, connection_attempts=1)

        def up():
            try:
                pika.BlockingConnection(params).close()
                return True
            except pika.exceptions.AMQPConnectionError:
                if server.poll() is not None:
                    raise NodeDied((base / "server.out").read_text()[-2000:]) from None
                return False
        wait_until(up, 60, "rabbitmq-server to start")
        yield port
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
        except ProcessLookupError:  # it failed to start, and nothing of it is left
            pass
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        for pid in os.listdir("/proc"):  # the epmd our node started (its own port)
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    ours = f"ERL_EPMD_PORT={epmd}".encode() in f.read().split(b"\0")
                if ours and os.readlink(f"/proc/{pid}/exe").endswith("/epmd"):
                    os.kill(int(pid), signal.SIGTERM)
            except (OSError, ValueError):
                continue
        shutil.rmtree(base)


@pytest.fixture(scope="session")
def moto():
    """moto's server (S3 and SQS) on loopback: its endpoint URL."""
    with moto_server() as url:
        yield url


@contextlib.contextmanager
def moto_server():
    """moto's server (S3 and SQS) on loopback: its endpoint URL. boto3 gets
    dummy credentials through the environment (moto accepts any)."""
    import signal
    import subprocess
    import sys
    port = free_port()
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"),
                               "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    try:
        import socket

        def up():
            assert server.poll() is None, "moto_server exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(up, 30, "moto_server to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
