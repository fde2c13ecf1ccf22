"""The zygotes of every served function: started on first call, replaced
when the function changes (`fn update`) or its zygote died, reaped when idle.

Concurrency: at most `max_concurrency` calls run at once across functions; a
call beyond that waits up to `queue_timeout` seconds for a slot (back-pressure)
and then fails with TooManyRequestsException. A function has one zygote that
forks every call, so calls of one function run in parallel as well.
"""
import os
import threading
import time

from pycontain.errors import PycontainError
from pycontain.fn.registry import functions
from pycontain.fn.server import memory
from pycontain.fn.server.call_cgroups import limits_applied
from pycontain.fn.outcome import EXIT_FUNCTION_ERROR, Outcome, new_request_id
from pycontain.fn.server.zygote import SPARES, Zygote


class _Entry:
    """One function's zygote and its bookkeeping."""
    __slots__ = ("lock", "zygote", "version", "in_flight", "calls", "last_used",
                 "reserved", "in_flight_reserved", "limit", "limit_version")

    def __init__(self):
        self.lock = threading.Lock()
        self.zygote, self.version = None, None
        self.in_flight = self.calls = 0
        self.last_used = time.monotonic()
        self.reserved = threading.Condition()  # guards in_flight_reserved against limit
        self.in_flight_reserved = 0
        self.limit, self.limit_version = None, None


class ZygotePool:
    def __init__(self, max_concurrency: int = 64, queue_timeout: float = 10.0,
                 idle_ttl: float = 600.0, log_fd: int = 2, spares: int = SPARES,
                 output=None):
        """output(name) -> what is given function name's zygote's own output
        (see Zygote), or None."""
        self.max_concurrency, self.queue_timeout, self.idle_ttl = (
            max_concurrency, queue_timeout, idle_ttl)
        self.spares = spares  # call jails each zygote keeps set up ahead
        self.log_fd, self.output = log_fd, output
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._entries, self._lock = {}, threading.Lock()
        self._retired = []  # replaced zygotes, killed once their calls are done
        self._functions_dir = functions.functions_dir()
        self.closing = False

    def _entry(self, name: str) -> _Entry:
        with self._lock:
            return self._entries.setdefault(name, _Entry())

    def lookup(self, name: str) -> None:
        """Raise ResourceNotFoundException unless function name exists."""
        functions.get(name)

    def _version(self, name: str) -> tuple:
        """What changes whenever the function's config.json is written (a new
        file each time: two writes within one clock tick differ in inode)."""
        try:
            st = os.stat(os.path.join(self._functions_dir, functions.validate_name(name),
                                      "config.json"))
        except FileNotFoundError:
            raise functions.not_found(name) from None
        return st.st_mtime_ns, st.st_ino, st.st_size

    def _acquire(self, name: str, entry: _Entry, version: tuple) -> Zygote:
        """The function's current, live zygote (started or replaced if need be,
        version being its config's), counted as in use by one more call."""
        with entry.lock:
            if self.closing:  # close() takes the zygotes under this lock after setting it
                raise PycontainError("ServiceException: the server is shutting down")
            old = entry.zygote
            if old is None or not old.alive or entry.version != version:
                if old is not None:
                    self._retire(old)
                entry.zygote, entry.version = None, version
                entry.zygote = Zygote(functions.jail_config(name), self.log_fd, self.spares,
                                      self.output and self.output(name))
            entry.in_flight += 1
            entry.calls += 1
            entry.zygote.users += 1
            return entry.zygote

    def _release(self, entry: _Entry, zygote: Zygote) -> None:
        with entry.lock:
            entry.in_flight -= 1
            zygote.users -= 1
            entry.last_used = time.monotonic()
        if zygote is not entry.zygote:
            self._close_retired()

    def _retire(self, zygote: Zygote) -> None:
        """Kill a replaced zygote now, or once its last call is done."""
        if zygote.users == 0 or not zygote.alive:
            zygote.close()
        else:
            with self._lock:
                self._retired.append(zygote)

    def invoke(self, name: str, event: bytes, request_id: str = "", stream=None) -> Outcome:
        """Run one call of function name in a fresh jail forked from its zygote
        (stream: see Zygote.call)."""
        request_id = request_id or new_request_id()
        if self.closing:
            raise PycontainError("ServiceException: the server is shutting down")
        entry = self._entry(name)
        version = self._version(name)
        waited = self._reserve(name, entry, version)
        if not self._slots.acquire(blocking=False):
            waited = True
            if not self._slots.acquire(timeout=self.queue_timeout):
                self._unreserve(entry)
                raise PycontainError("TooManyRequestsException: Rate Exceeded. (all "
                                     f"{self.max_concurrency} concurrency slots busy)")
        try:
            if waited:  # an update meanwhile must not be undone by this older view
                version = self._version(name)
            zygote = self._acquire(name, entry, version)
            try:
                if zygote.init_error is not None:
                    return Outcome(request_id=request_id, payload=zygote.init_error,
                                   function_error="Unhandled", exit_code=EXIT_FUNCTION_ERROR)
                return zygote.call(event, request_id, stream)
            finally:
                self._release(entry, zygote)
        finally:
            self._slots.release()
            self._unreserve(entry)

    def _reserve(self, name: str, entry: _Entry, version) -> bool:
        """Wait up to queue_timeout for one of the function's reserved slots
        (its ReservedConcurrentExecutions; unlimited when it has none).
        Whether the call had to wait."""
        with entry.reserved:
            if entry.limit_version != version:
                entry.limit = functions.get(name).get("ReservedConcurrentExecutions")
                entry.limit_version = version
            def free():
                return entry.limit is None or entry.in_flight_reserved < entry.limit
            waited = not free()
            if waited and (entry.limit == 0 or  # throttled altogether: no use waiting
                           not entry.reserved.wait_for(free, timeout=self.queue_timeout)):
                raise PycontainError(
                    "TooManyRequestsException: Rate Exceeded. (function "
                    f"{name}'s reserved concurrency of {entry.limit} is in use)")
            entry.in_flight_reserved += 1
            return waited

    @staticmethod
    def _unreserve(entry: _Entry) -> None:
        with entry.reserved:
            entry.in_flight_reserved -= 1
            entry.reserved.notify()

    def _close_retired(self) -> None:
        with self._lock:
            done = [z for z in self._retired if z.users == 0]
            self._retired = [z for z in self._retired if z.users]
        for zygote in done:
            zygote.close()

    def reap_idle(self) -> None:
        """Kill zygotes unused for idle_ttl seconds (and dead ones' leftovers);
        those of functions with no call running keep only --spares spares, and
        their call cgroups only the few kept ahead (see call_cgroups)."""
        now = time.monotonic()
        with self._lock:
            entries = list(self._entries.values())
        idle = []
        for entry in entries:
            with entry.lock:
                zygote = entry.zygote
                if zygote is None or entry.in_flight:
                    continue
                if now - entry.last_used > self.idle_ttl or not zygote.alive:
                    entry.zygote = None
                    zygote.close()
                else:
                    zygote.trim_spares(self.spares)
                    idle.append(zygote)
        for zygote in idle:  # outside the lock: a call may come meanwhile (it takes another)
            if zygote.cgroups is not None:
                zygote.cgroups.trim()
        self._close_retired()

    def status(self) -> dict:
        """Per function: warm or not, its zygote, calls, idle time and memory
        (its zygote's tree: zygote, forker, spares, running calls); the server's own."""
        with self._lock:
            entries = dict(self._entries)
        funcs = {}
        for name, entry in sorted(entries.items()):
            zygote = entry.zygote
            warm = bool(zygote and zygote.alive)
            funcs[name] = {"warm": warm, "zygote_pid": zygote.pid if warm else None,
                           "init_ms": round(zygote.init_ms, 2) if zygote else None,
                           "in_flight": entry.in_flight, "calls": entry.calls,
                           "idle_s": round(time.monotonic() - entry.last_used, 1),
                           "memory": memory.zygote_memory(zygote.pid) if warm else None}
        return {"functions": funcs,
                "warm_zygotes": sum(f["warm"] for f in funcs.values()),
                "in_flight": sum(f["in_flight"] for f in funcs.values()),
                "warm_pss_kib": sum(f["memory"]["pss_kib"] for f in funcs.values() if f["warm"]),
                "server": memory.own_memory(), "idle_ttl": self.idle_ttl,
                "max_concurrency": self.max_concurrency, "limits": limits_applied()}

    def in_flight(self) -> int:
        with self._lock:
            return sum(e.in_flight for e in self._entries.values())

    def close(self, grace: float = 5.0) -> None:
        """Refuse new calls, let in-flight ones finish for up to grace seconds,
        then kill every zygote (and with it every call still running)."""
        self.closing = True
        deadline = time.monotonic() + grace
        while self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._lock:
            entries, retired, self._retired = list(self._entries.values()), self._retired, []
        current = []
        for entry in entries:  # under its lock: a queued call can no longer start one
            with entry.lock:
                current.append(entry.zygote)
                entry.zygote = None
        for zygote in retired + [z for z in current if z is not None]:
            zygote.close()
