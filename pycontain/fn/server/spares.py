"""The engine's queue of a zygote's ready spares (see zygote_main), handed to
calls first come, first served: a call that finds others waiting queues
behind them, and a spare that comes in goes straight to the oldest waiter.
Under a burst the calls wait here for spares, and no call waits much longer
than the others (with a Condition, a newcomer could take a spare from under
a call that had waited for it)."""
import collections
import threading


class SpareQueue:
    def __init__(self, wait: float):
        """wait: seconds a call waits for a spare (0: none)."""
        self.wait = wait
        self._spares = collections.deque()  # (pid, socket) of spares waiting for a call
        self._waiters = collections.deque()  # [spare or None, lock held until it is set]
        self._lock = threading.Lock()
        self.closed = False

    def put(self, spare: tuple) -> None:
        """A spare came in: to the oldest waiting call, else kept."""
        with self._lock:
            if self.closed:
                spare[1].close()
            elif self._waiters:
                waiter = self._waiters.popleft()
                waiter[0] = spare
                waiter[1].release()
            else:
                self._spares.append(spare)

    def take(self):
        """(pid, socket) of a spare, waiting up to `wait` seconds behind the
        calls that came first; None if none came."""
        with self._lock:
            if self._spares and not self._waiters:
                return self._spares.popleft()
            if not self.wait or self.closed:
                return self._spares.popleft() if self._spares else None
            waiter = [None, threading.Lock()]
            waiter[1].acquire()
            self._waiters.append(waiter)
        waiter[1].acquire(timeout=self.wait)
        with self._lock:
            if waiter[0] is None and waiter in self._waiters:  # timed out
                self._waiters.remove(waiter)
            return waiter[0]

    def trim(self, keep: int) -> None:
        """Close the spares beyond keep, the newest first: each reads EOF and ends."""
        with self._lock:
            while len(self._spares) > keep:
                self._spares.pop()[1].close()

    def close(self) -> None:
        """Close every spare; waiting calls get None, and so do later ones."""
        with self._lock:
            self.closed = True
            while self._spares:
                self._spares.popleft()[1].close()
            while self._waiters:
                self._waiters.popleft()[1].release()
