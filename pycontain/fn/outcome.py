"""A call's outcome: the pipes of one handler call, their collection while
the wall-clock timeout runs, and the result, error and report a caller sees.

The event goes in through a memfd (fd 0); the result and the log stream come
back through two pipes. On timeout the jail's first process (PID 1 of its pid
namespace) is killed, which makes the kernel kill everything else in the jail.
csrc/call.c does the same for a call the launcher runs itself
(fn.oneshot.description_cache).
"""
import os
import time
import _signal as signal  # not `signal`: its enum import costs ~4 ms per start

from pycontain.fdio import readable
from pycontain.record import Record

MAX_EVENT = 6291456                # Lambda's synchronous payload limit (6 MiB)
MAX_RESULT = MAX_EVENT + 1024      # the runner enforces the limit; this bounds a liar
LOG_TAIL = 4096                    # what `--log-type Tail` returns, as Lambda does
LIMITS_APPLIED = "rlimit"          # what enforces a one-shot jail's memory/pids/CPU
# exit codes of `fn exec` (documented in the README)
EXIT_OK = 0
EXIT_FUNCTION_ERROR = 1
EXIT_BAD_REQUEST = 2
EXIT_TIMEOUT = 124
# what a caller reads, as printf formats: csrc/call.c gets them from a header
# setup.py generates from these lines (fn_outcome.h)
START_LINE = "START RequestId: %s Version: $LATEST\n"
REPORT_LINES = ("END RequestId: %s\nREPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: "
                "%lld ms\tMemory Size: %llu MB\tMax Memory Used: %ld MB\tLimits: %s\t\n")
TOO_LARGE = "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
TIMED_OUT = "RequestId: %s Error: Task timed out after %.2f seconds"
EXIT_ERROR = "RequestId: %s Error: Runtime %s"
NO_REASON = "exited without providing a reason"
KILLED = "exited with error: signal: killed"
BY_SIGNAL = "exited with error: signal: %d"
BY_STATUS = "exited with error: exit status %d"


class Outcome(Record):
    """payload: result or error JSON (bytes); function_error: None or 'Unhandled'."""
    FIELDS = {"payload": b"", "function_error": None, "exit_code": EXIT_OK, "log": b"",
              "request_id": "", "duration_ms": 0.0, "max_memory_mb": 0}
    __slots__ = tuple(FIELDS)


def new_request_id() -> str:
    """A random (version 4) UUID, without importing uuid."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def error_payload(error_type: str, message: str, request_id: str) -> bytes:
    from pycontain import jsonio
    return jsonio.dumps({"errorMessage": message, "errorType": error_type,
                         "requestId": request_id, "stackTrace": []}, indent=None).encode()


def _event_fd(event: bytes) -> int:
    fd = os.memfd_create("event", os.MFD_CLOEXEC)
    os.write(fd, event)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class Collector:
    """Reads the result and log pipes until the jail exits or time runs out;
    keeps the last `keep` bytes of the log."""
    keep = LOG_TAIL

    def __init__(self, result_fd: int, log_fd: int, log_sink):
        self.result, self.log = bytearray(), bytearray()
        self.open = [result_fd, log_fd]
        self.log_fd, self.log_sink = log_fd, log_sink

    def _read(self, fd: int) -> None:
        data = os.read(fd, 65536)
        if not data:
            self.open.remove(fd)
            os.close(fd)
        elif fd == self.log_fd:
            if self.log_sink is not None:
                os.write(self.log_sink, data)
            self.log += data
            del self.log[:-self.keep]
        elif len(self.result) < MAX_RESULT:
            self.result += data[:MAX_RESULT - len(self.result)]

    def run(self, pidfd: int, deadline: float) -> bool:
        """Collect until the process exited and both pipes closed; False on timeout.
        (Once PID 1 has exited the kernel kills the rest, so the pipes close.)"""
        exited = False
        while self.open or not exited:
            timeout = None
            if not exited:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    return False
            ready = readable(self.open + ([] if exited else [pidfd]), timeout)
            for fd in ready:
                if fd == pidfd:
                    exited = True
                else:
                    self._read(fd)
        return True

    def close(self) -> None:
        for fd in self.open:
            os.close(fd)
        self.open = []


def report_lines(out: Outcome, memory_mb: int, limits: str = LIMITS_APPLIED) -> bytes:
    rid = out.request_id
    billed = int(out.duration_ms) + (out.duration_ms % 1 > 0)
    return (REPORT_LINES.replace("%ll", "%").replace("%ld", "%d")
            % (rid, rid, out.duration_ms, billed, memory_mb, out.max_memory_mb, limits)).encode()


def classify(out: Outcome, status: int, payload: bytes, timed_out: bool, timeout: float):
    rid = out.request_id
    if timed_out:
        out.payload = error_payload("Sandbox.Timedout", TIMED_OUT % (rid, timeout), rid)
        out.function_error, out.exit_code = "Unhandled", EXIT_TIMEOUT
        return
    code = os.waitstatus_to_exitcode(status)
    if code in (0, 1, 2) and payload:
        out.payload = payload
        out.exit_code = code
        out.function_error = "Unhandled" if code else None
        return
    reason = (NO_REASON if code == 0 else KILLED if code == -signal.SIGKILL
              else BY_SIGNAL % -code if code < 0 else BY_STATUS % code)
    out.payload = error_payload("Runtime.ExitError", EXIT_ERROR % (rid, reason), rid)
    out.function_error, out.exit_code = "Unhandled", EXIT_FUNCTION_ERROR


def with_call_fds(start, event: bytes, log_sink=None) -> tuple:
    """start((event fd, result pipe, log pipe)) -> handle, then close our copies
    of those descriptors: (handle, the Collector reading the two pipes)."""
    result_r, result_w = os.pipe2(os.O_CLOEXEC)
    log_r, log_w = os.pipe2(os.O_CLOEXEC)
    collector = Collector(result_r, log_r, log_sink)
    event_fd = _event_fd(event)
    try:
        return start((event_fd, result_w, log_w)), collector
    except BaseException:
        collector.close()
        raise
    finally:
        for fd in (event_fd, result_w, log_w):
            os.close(fd)


def supervise(launch, collector: Collector, deadline: float, header: bytes,
              running=None) -> tuple:
    """Start the jail, collect its output, kill it at the deadline, reap it:
    (wait status, rusage, timed out). Nothing is left running on any error.
    running(launch): called once the call runs, for work that can wait until then."""
    try:
        launch.start()  # on failure it has reaped the process itself
        if collector.log_sink is not None:
            os.write(collector.log_sink, header)
        if running is not None:
            running(launch)
        try:
            pidfd = os.pidfd_open(launch.pid)
            try:
                finished = collector.run(pidfd, deadline)
                if not finished:
                    os.kill(launch.pid, signal.SIGKILL)
            finally:
                os.close(pidfd)
            _, status, usage = os.wait4(launch.pid, 0)
        except BaseException:
            launch.abort()
            raise
    finally:
        collector.close()
    return status, usage, not finished


def conclude(out: Outcome, launch, collector: Collector, start: float, timeout: float,
             memory_mb: int, log_sink, running=None) -> Outcome:
    """Run a launched call to its end (start: time.monotonic() when it was
    asked for) and fill out with what happened; the report goes to log_sink.
    running: see supervise."""
    header = (START_LINE % out.request_id).encode()
    status, usage, timed_out = supervise(launch, collector, start + timeout, header, running)
    out.duration_ms = (time.monotonic() - start) * 1000
    out.max_memory_mb = (usage.ru_maxrss + 1023) // 1024
    classify(out, status, bytes(collector.result), timed_out, timeout)
    report = report_lines(out, memory_mb)
    out.log = bytes(header + collector.log + report)[-LOG_TAIL:]
    if log_sink is not None:
        os.write(log_sink, report)
    return out
