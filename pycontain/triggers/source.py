"""One mapping's source: a thread that reads events and calls the function,
with the counters and state `fn trigger get` and fn serve's status show.

A source that cannot reach its broker, queue or credentials says why in
LastProcessingResult ("PROBLEM: ...") and StateTransitionReason, and tries
again with back-off (1 s doubling to MAX_BACKOFF) until the mapping is
disabled, changed or deleted."""
import threading
import traceback

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.fn.outcome import new_request_id

MAX_BACKOFF = 30.0


class Problem(Exception):
    """The source cannot run as configured (the reason is shown)."""


class Source:
    def __init__(self, stored: dict, runner):
        self.mapping, self.runner = stored, runner
        self.name = stored["FunctionName"]
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = {"Processed": 0, "Failed": 0, "Retried": 0, "Batches": 0}
        self.result, self.reason = "No records processed", "USER_INITIATED"
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"trigger-{stored['UUID'][:8]}")

    def start(self) -> None:
        self.thread.start()

    def consume(self) -> None:
        """Read and deliver events until self.stop is set (subclasses)."""
        raise NotImplementedError

    def _run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            try:
                self.consume()
                return
            except Problem as exc:
                self.problem(str(exc))
            except Exception as exc:  # noqa: BLE001 - a broker library's error: shown, retried
                self.problem(f"{type(exc).__name__}: {exc}"[:500])
                self.runner.log(f"pycontain fn serve: mapping {self.mapping['UUID']}:\n"
                                f"{traceback.format_exc()}")
            self.stop.wait(backoff)
            backoff = min(MAX_BACKOFF, backoff * 2)

    def problem(self, reason: str) -> None:
        with self.lock:
            first = self.result != f"PROBLEM: {reason}"
            self.result, self.reason = f"PROBLEM: {reason}", reason
        if first:
            self.runner.log(f"pycontain fn serve: mapping {self.mapping['UUID']} "
                            f"({self.name}): {reason}\n")
        self.runner.changed()

    def ok(self) -> None:
        with self.lock:
            self.result, self.reason = "OK", "USER_INITIATED"

    def count(self, **changes) -> None:
        with self.lock:
            for key, n in changes.items():
                self.counts[key] += n
        self.runner.changed()

    def call(self, event: dict):
        """Call the function synchronously with event: (succeeded, result or None).
        An engine error (throttled, shutting down) is a failed call."""
        request_id = new_request_id()
        try:
            out = self.runner.invoke(self.name, jsonio.dumps(event, indent=None).encode(),
                                     request_id)
        except PycontainError as exc:
            self.runner.log(f"pycontain fn serve: mapping {self.mapping['UUID'][:8]} "
                            f"could not call {self.name}: {exc}\n")
            return False, None
        self.ok()
        if out.function_error:
            return False, None
        try:
            return True, jsonio.loads(out.payload) if out.payload else None
        except ValueError:
            return True, None

    def status(self) -> dict:
        with self.lock:
            return {"LastProcessingResult": self.result,
                    "StateTransitionReason": self.reason, "Counters": dict(self.counts)}
