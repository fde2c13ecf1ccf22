"""A bounded pool of daemon threads (concurrent.futures' are not daemons:
one stuck in a call would hold up the process's exit, and its Futures are
not needed here)."""
import queue
import sys
import threading
import traceback


class Workers:
    """Runs submitted calls on at most size threads, started as needed; the
    calls past that wait in a queue, in order."""

    def __init__(self, size: int, name: str = "worker"):
        self.size, self.name, self.started = size, name, 0
        self._queue = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # threads waiting for a call
        self._lock = threading.Lock()

    def submit(self, call, *args) -> None:
        self._queue.put((call, args))
        if self._idle.acquire(blocking=False):
            return
        with self._lock:
            if self.started < self.size:
                self.started += 1
                threading.Thread(target=self._run, name=f"{self.name}-{self.started}",
                                 daemon=True).start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            call, args = item
            try:
                call(*args)
            except Exception:  # noqa: BLE001 - the call's own bug: say so, keep the thread
                sys.stderr.write(traceback.format_exc())
            self._idle.release()

    def shutdown(self) -> None:
        """Let each thread end once the calls queued so far are done."""
        for _ in range(self.started):
            self._queue.put(None)
