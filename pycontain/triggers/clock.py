"""The time the triggers see: the real clock, or a manual one for tests.

A clock has time() (seconds since the epoch) and sleep_until(deadline, stop)
which returns True once time() >= deadline, False as soon as stop is set."""
import threading
import time

POLL = 0.05  # how often a manual clock's sleepers look again


class RealClock:
    @staticmethod
    def time() -> float:
        return time.time()

    @staticmethod
    def sleep_until(deadline: float, stop: threading.Event) -> bool:
        while True:
            left = deadline - time.time()
            if left <= 0:
                return not stop.is_set()
            if stop.wait(min(left, 1.0)):
                return False


class ManualClock:
    """Time stands still until advance() moves it."""

    def __init__(self, start: float | None = None):
        self.now = time.time() if start is None else start
        self._moved = threading.Condition()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._moved:
            self.now += seconds
            self._moved.notify_all()

    def sleep_until(self, deadline: float, stop: threading.Event) -> bool:
        with self._moved:
            while self.now < deadline and not stop.is_set():
                self._moved.wait(POLL)
        return not stop.is_set()
