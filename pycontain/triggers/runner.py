"""Runs every enabled event source mapping while `fn serve` runs.

    runner = Runner(invoke, log)   # invoke(name, event: bytes, request_id) -> Outcome
    runner.start() ... runner.stop(grace)

A supervisor thread reads the store every RELOAD seconds and starts, stops
or restarts (when changed) one source thread per enabled mapping; the async
queue (asyncq) runs beside them. stop(): the sources stop reading, a batch
in flight finishes (its messages acked or deleted) or, past the grace,
goes back to its queue (not acked, not deleted); async events stay queued.
Each mapping's state and counters are written to the store for
`fn trigger get`, and returned by status() for fn serve's status JSON."""
import sys
import threading
import time

from pycontain.triggers import mapping as fields
from pycontain.triggers import store
from pycontain.triggers.asyncq import AsyncQueue
from pycontain.triggers.clock import RealClock

RELOAD = 1.0


def _source_class(kind: str):
    if kind == fields.SCHEDULE:
        from pycontain.triggers.schedules import ScheduleSource
        return ScheduleSource
    if kind == fields.RABBITMQ:
        from pycontain.triggers.rabbitmq import RabbitSource
        return RabbitSource
    if kind == fields.SQS:
        from pycontain.triggers.sqs import SqsSource
        return SqsSource
    from pycontain.triggers.sqs import S3QueueSource
    return S3QueueSource


def _stderr(line: str) -> None:
    sys.stderr.write(line)
    sys.stderr.flush()


class Runner:
    def __init__(self, invoke, log=_stderr, clock=None, reload_every: float = RELOAD,
                 retry_delay: float | None = None):
        self.invoke, self.log = invoke, log
        self.clock = clock or RealClock()
        self.reload_every = reload_every
        self.events = AsyncQueue(self, retry_delay)
        self.sources = {}  # UUID -> Source
        self._stop, self._dirty = threading.Event(), threading.Event()
        self._threads = []

    def start(self) -> "Runner":
        for target, name in ((self._supervise, "triggers"), (self.events.run, "async-queue")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def changed(self) -> None:
        self._dirty.set()

    def _supervise(self) -> None:
        while True:
            try:
                self.sync()
            except Exception as exc:  # noqa: BLE001 - a bad store entry must not stop the rest
                self.log(f"pycontain fn serve: event source mappings: {exc}\n")
            if self._stop.wait(self.reload_every):
                return

    def sync(self) -> None:
        """Start, restart and stop sources to match the store."""
        wanted = {m["UUID"]: m for m in store.load_all() if m.get("Enabled")}
        for uuid, source in list(self.sources.items()):
            if wanted.get(uuid, {}).get("LastModified") != source.mapping["LastModified"]:
                self._halt([self.sources.pop(uuid)], grace=5.0)
        for uuid, stored in wanted.items():
            if uuid not in self.sources and not self._stop.is_set():
                source = _source_class(fields.kind_of(stored))(stored, self)
                self.sources[uuid] = source
                source.start()
                self._dirty.set()
        if self._dirty.is_set():
            self._dirty.clear()
            for source in list(self.sources.values()):
                store.write_state(source.mapping, source.status())

    @staticmethod
    def _halt(sources, grace: float) -> None:
        for source in sources:
            source.stop.set()
        deadline = time.monotonic() + grace
        for source in sources:
            source.thread.join(max(0.0, deadline - time.monotonic()))

    def stop(self, grace: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads[:1]:
            thread.join(grace)
        self._halt(list(self.sources.values()), grace)
        self.events.stop(grace)
        for source in self.sources.values():
            store.write_state(source.mapping, source.status())

    def status(self) -> dict:
        """Each running mapping's state and counters, and the async queue's."""
        return {"mappings": {uuid: {"FunctionName": s.name, **s.status()}
                             for uuid, s in list(self.sources.items())},
                "async": self.events.status()}
