"""Shared by the event source tests: a private store with functions, and a
recording stand-in for fn serve's pool (the delivery semantics under test
are the triggers'; test_fn_triggers_serve runs real jails end to end)."""
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
    from pycontain.fn import functions
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
