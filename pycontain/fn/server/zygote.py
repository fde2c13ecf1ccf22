"""The engine's side of a zygote (see zygote_main, which runs in the jail).

A Zygote is the function's base jail (zygote_spec; started as a call's is, by
jail.starter: as root the C executor builds it from its description) with the zygote as
its first process, plus a SOCK_SEQPACKET control socket (its fd 0; 1, 2: a log pipe; 3:
the go-ahead). No death signal (fn serve starts zygotes from worker threads;
PR_SET_PDEATHSIG follows the starting *thread*): it ends once the socket's other end
closes (close(), the server's end). The zygote keeps us supplied with spares (children
set up ahead, each waiting on a socket for one call); `call` sends the event and two
pipes straight to a spare, the child writes the result and the log to the pipes, the
zygote reports its wait status. Calls run concurrently; one reader thread takes the
spares and routes the reports. If the zygote dies, its calls fail with Runtime.ExitError
and `alive` turns False (the pool starts a new one).
"""
import os
import socket
import threading
import time

from pycontain import jsonio, paths
from pycontain.errors import PycontainError
from pycontain.fdio import readable, write_all
from pycontain.fn.server import call_cgroups
from pycontain.fn.outcome import LOG_TAIL, Collector, Outcome, classify, error_payload, \
    report_lines, with_call_fds
from pycontain.fn.jail import (MAX_PROCESSES, RUNTIME_DIR, JailConfig, _ro_bind,
                               death_signal_kept, jail_context, jail_spec, limits, starter)
from pycontain.fn.server.spares import SpareQueue
from pycontain.oci.security import seccomp

INJAIL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "injail")
ZYGOTE_MODULES = ("zygote_main", "call_setup")  # bound in /var/runtime beside the runner
BOOT = (f"import sys; sys.path.insert(0, {RUNTIME_DIR!r}); import zygote_main as z; "
        "del sys.path[0], sys.modules['zygote_main'], sys.modules['call_setup'], "
        "sys.modules['runner']; sys.exit(z.main())")
INIT_TIMEOUT = 10.0   # Lambda's limit on a function's init phase
GRACE = 2.0           # after a call's timeout, before the engine gives up on the zygote
# what the zygote may do that the handler may not: create namespaces and mount in them
ZYGOTE_CAPS_PROFILE = ("CAP_SYS_ADMIN",)
PER_CALL_RLIMITS = ("RLIMIT_CPU", "RLIMIT_NPROC")  # set by each call's child
ZYGOTE_PROCESSES = 16 * MAX_PROCESSES  # a function's processes and threads, all its calls
                                       # (and its import) together: at most the server's own
SPARE_WAIT = 0.5      # for a spare on its way (spares come once set up: a fresh net
                      # namespace can take 100s of ms under load), before a call goes
                      # through the zygote
STREAM_KEEP = 256 * 1024  # of a call's output, for its function's log stream (Lambda's
                          # largest log event)
SPARES = 4            # calls' jails each zygote keeps set up ahead by default, made two
                      # at a time when only two are left (see zygote_main)


def zygote_spec(cfg: JailConfig, spares: int = SPARES) -> tuple:
    """The base jail's spec, and the init message that tells the zygote what
    each call's child sets up: /proc masks (a fresh /proc per call can only be
    mounted where the jail's own /proc is fully visible, so the jail's has none),
    rlimits, seccomp. RLIMIT_NPROC (1024) is each call's: the kernel counts it
    in each user namespace (since Linux 5.14), and a call has its own, so one
    call's threads never count against another's. The zygote's own limit,
    which the kernel holds the zygote's uid (one per zygote, see fn.jail) to
    for the whole function (its calls' processes too: the namespaces they run
    in are the zygote's), is ZYGOTE_PROCESSES."""
    import resource

    spec = jail_spec(cfg, "", 0)
    process, linux = spec["process"], spec["linux"]
    process["args"] = ["python3", "-I", "-S", "-B", "-c", BOOT]
    budget = min(ZYGOTE_PROCESSES, resource.getrlimit(resource.RLIMIT_NPROC)[1])
    process["rlimits"] = [dict(r, soft=budget, hard=budget) if r["type"] == "RLIMIT_NPROC" else r
                          for r in process["rlimits"] if r["type"] != "RLIMIT_CPU"]
    spec["mounts"] += [_ro_bind(os.path.join(INJAIL, f"{name}.py"), f"{RUNTIME_DIR}/{name}.py")
                       for name in ZYGOTE_MODULES]
    masked = [p for p in linux["maskedPaths"] if p.startswith("/proc/")]
    readonly = [p for p in linux["readonlyPaths"] if p.startswith("/proc/")]
    linux["maskedPaths"] = [p for p in linux["maskedPaths"] if p not in masked]
    linux["readonlyPaths"] = [p for p in linux["readonlyPaths"] if p not in readonly]
    # prctl held as the call's is: else it differs, and each call installs its whole profile
    zygote_section = death_signal_kept(seccomp.resolve("default", ZYGOTE_CAPS_PROFILE))
    call_filter = seccomp.program(added_filter(linux["seccomp"], zygote_section)
                                  or linux["seccomp"])
    linux["seccomp"] = zygote_section
    init = {"handler": cfg.handler, "bpf": call_filter.hex(), "masked": masked,
            "tmp_size": "512m", "spares": spares, "network": cfg.network,
            "rlimits": [[r["type"], r["soft"], r["hard"]] for r in limits(cfg)
                        if r["type"] in PER_CALL_RLIMITS]}
    return spec, init


def _rules_by_name(section: dict) -> dict:
    rules = {}
    for rule in section["syscalls"]:
        for name in rule["names"]:
            rules.setdefault(name, []).append((rule["action"], rule.get("errnoRet"),
                                               rule.get("args") or []))
    return rules


def _unless_bits(rules: list):
    """For rules that allow a syscall only when no bit of one argument's mask is
    set (docker's clone): the argument index and mask, else None."""
    if len(rules) != 1 or rules[0][0] != "SCMP_ACT_ALLOW" or len(rules[0][2]) != 1:
        return None
    arg = rules[0][2][0]
    if arg["op"] != "SCMP_CMP_MASKED_EQ" or arg.get("valueTwo", 0) != 0:
        return None
    return arg["index"], arg["value"]


def added_filter(call: dict, zygote: dict):
    """The seccomp section a call's child installs on top of the zygote's
    (inherited) filter to be held to `call`: stacked filters all run and the
    strictest answer wins (the newest filter's errno among equals), so it
    needs rules only for the syscalls whose rules differ (what CAP_SYS_ADMIN
    adds: mount, unshare, setns, clone with namespace flags ...) and allows the
    rest: a program of ~100 instructions, not ~1200, for the kernel to check
    and compile per call. None when a difference cannot be put so (then `call`
    is installed whole)."""
    default = (call["defaultAction"], call.get("defaultErrnoRet"), [])
    if (call.get("architectures") != zygote.get("architectures")
            or default != (zygote["defaultAction"], zygote.get("defaultErrnoRet"), [])):
        return None
    ours, theirs = _rules_by_name(call), _rules_by_name(zygote)
    syscalls = []
    for name in sorted(set(ours) | set(theirs)):
        mine, base = ours.get(name, [default]), theirs.get(name, [default])
        if mine == base:
            continue
        if len(mine) == 1 and not mine[0][2] and mine[0][0] != "SCMP_ACT_ALLOW":
            syscalls.append({"names": [name], "action": mine[0][0], "errnoRet": mine[0][1]})
            continue
        bits = _unless_bits(mine)
        if base != [("SCMP_ACT_ALLOW", None, [])] or bits is None:
            return None
        index, mask = bits
        syscalls += [{"names": [name], "action": default[0], "errnoRet": default[1],
                      "args": [{"index": index, "value": 1 << b, "valueTwo": 1 << b,
                                "op": "SCMP_CMP_MASKED_EQ"}]}
                     for b in range(64) if mask >> b & 1]
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": call["architectures"],
            "syscalls": syscalls}


class _Pending:
    __slots__ = ("done_fd", "report")

    def __init__(self):
        self.done_fd = os.eventfd(0, os.EFD_CLOEXEC)
        self.report = None


def _outcome(collector: Collector, pending: _Pending, deadline: float) -> tuple:
    """(report, result): from the child's own "STATUS RSS" line once its pipes
    closed, else from the zygote's report (None if neither came in time)."""
    while collector.open:
        ready = readable(collector.open, max(0, deadline - time.monotonic()))
        if not ready:
            return None, b""
        for fd in ready:
            collector._read(fd)
    head, newline, result = bytes(collector.result).partition(b"\n")
    status, _, rss = head.partition(b" ")
    if newline and status in (b"0", b"1", b"2") and rss.isdigit():
        return {"status": int(status) << 8, "rss": int(rss), "timed_out": False}, result
    readable([pending.done_fd], max(0, deadline - time.monotonic()))
    return pending.report, b""


def _copy_log(log_r: int, log_fd: int, output=None) -> None:
    """A zygote's own output (and its spares', until their call) to our log
    fd (and output(data), if given), until every one of them has gone; a log
    fd that fails closes the pipe."""
    try:
        while data := os.read(log_r, 65536):
            write_all(log_fd, data)
            if output is not None:
                output(data)
    except OSError:
        pass
    finally:
        os.close(log_r)


class Zygote:
    """A warm, pre-imported handler in the function's base jail."""

    def __init__(self, cfg: JailConfig, log_fd: int = 2, spares: int = SPARES, output=None):
        """output(data): also given the zygote's own output (what the handler's
        module prints as it is imported; fn serve: the function's log stream)."""
        from pycontain.image.store import ImageStore
        started = time.monotonic()
        self.cfg = cfg
        self.alive = False
        self.init_error = None  # error JSON (bytes) when the handler failed to load
        self.init_ms = 0.0
        self.users = 0  # calls holding this zygote (kept by the pool)
        self._pending, self._lock, self._next = {}, threading.Lock(), 0
        self._spares = SpareQueue(SPARE_WAIT if spares else 0)  # none come with --spares 0
        self._first = threading.Lock()
        self.cgroups = call_cgroups.CallCgroups(cfg.memory_mb) if call_cgroups.available() \
            else None
        store_root = paths.data_root()
        image = ImageStore(store_root).resolve(cfg.image)
        spec, init = zygote_spec(cfg, spares)
        ctx = jail_context(spec, store_root, image.layer_dirs,
                           paths.ensure_dir(os.path.join(store_root, "fn", "jail")))
        start, _ = starter(spec, ctx)  # ctx.die_with_parent False: see the module doc
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        # the handler's module is imported in the zygote: its output goes through
        # a pipe, never our own log fd (which it could open again: /proc/self/fd/2)
        log_r, log_w = os.pipe2(os.O_CLOEXEC)
        try:
            launch = start((theirs.fileno(), log_w, log_w))
        except BaseException:
            os.close(log_r)
            ours.close()
            raise
        finally:
            theirs.close()
            os.close(log_w)
        self._log_copier = threading.Thread(target=_copy_log, args=(log_r, log_fd, output),
                                            name=f"zygote-log-{cfg.function_name}", daemon=True)
        self._log_copier.start()
        self.pid = launch.pid
        try:
            launch.start()
            ours.sendall(jsonio.dumps(init, indent=None).encode())
            self._handshake(started)
        except BaseException:
            self.kill()
            raise
        self._reader = threading.Thread(target=self._read, name=f"zygote-{cfg.function_name}",
                                        daemon=True)
        self._reader.start()

    def _handshake(self, started: float) -> None:
        """Wait for the handler's import; init_ms counts from the jail's creation."""
        self.sock.settimeout(INIT_TIMEOUT)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            data = jsonio.dumps({"ready": False, "error": error_payload(
                "Sandbox.Timedout", f"Init phase took longer than {INIT_TIMEOUT:.0f} seconds",
                "").decode()}).encode()
        finally:
            self.sock.settimeout(None)
        if not data:
            self._log_copier.join(GRACE)  # what it wrote goes above the error
            raise PycontainError(f"the zygote of {self.cfg.function_name} exited during init "
                                 "(see the log above)")
        answer = jsonio.loads(data)
        if not answer["ready"]:
            self.init_error = answer["error"].encode()
            self.kill()
            return
        self.init_ms, self.alive = (time.monotonic() - started) * 1000, True

    def _read(self) -> None:
        """Take spares, route reports; when the zygote is gone, fail what is pending."""
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, 65536, 1)
            except OSError:
                data, fds = b"", []
            if not data:
                break
            report = jsonio.loads(data)
            if "spare" in report:
                if not fds:  # its descriptor was dropped (we are out of them): the
                    continue  # spare reads EOF and ends, reported as an early end
                self._spares.put((report["spare"], socket.socket(
                    socket.AF_UNIX, socket.SOCK_SEQPACKET, 0, fds[0])))
                continue
            with self._lock:  # the caller closes done_fd once it popped it, under this lock
                pending = self._pending.pop(report["id"], None)
                if pending is not None:
                    pending.report = report
                    os.eventfd_write(pending.done_fd, 1)
        self.alive = False
        self._reap()
        self._spares.close()
        with self._lock:
            for pending in self._pending.values():
                os.eventfd_write(pending.done_fd, 1)
            self._pending = {}

    def _reap(self) -> None:
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass

    def trim_spares(self, keep: int) -> None:
        """Retire the spares beyond keep (a burst ordered more: zygote_main's
        BURST_SPARES)."""
        self._spares.trim(keep)

    def _dispatch(self, call: dict, fds: list) -> None:
        """Send the call to a spare and tell the zygote which; through the
        zygote (which clones a spare for it) when we have none."""
        data = jsonio.dumps(call, indent=None).encode()
        while True:
            taken = self._spares.take()  # the zygote orders more when few are left
            if taken is None:
                socket.send_fds(self.sock, [data], fds)
                return
            pid, spare = taken
            try:
                with spare:  # what was sent stays readable: the child's only call
                    socket.send_fds(spare, [data], fds)
            except OSError:  # it died before its call (the zygote reaps it)
                continue
            self.sock.send(b'{"id": %d, "timeout": %r, "pid": %d}' % (call["id"], call["timeout"],
                                                                       pid))
            return

    def _send(self, call: dict, fds: list) -> _Pending:
        pending = _Pending()
        with self._lock:
            self._next += 1
            call["id"] = self._next
            self._pending[call["id"]] = pending
        try:
            self._dispatch(call, fds)
        except OSError:
            with self._lock:
                self._pending.pop(call["id"], None)
            os.close(pending.done_fd)
            raise PycontainError(f"the zygote of {self.cfg.function_name} is gone") from None
        return pending

    def call(self, event: bytes, request_id: str, stream=None) -> Outcome:
        """One call in a fresh jail forked from the zygote (see module doc).
        stream(log): given the call's whole log (its last STREAM_KEEP bytes of
        output between START and END/REPORT), for the function's log stream."""
        cfg, out = self.cfg, Outcome(request_id=request_id)
        start = time.monotonic()
        call = {"timeout": cfg.timeout}
        # the call's own line, ahead of its event: not through the zygote, which
        # never sees a request id (nor keeps one in the memory its jails copy)
        head = jsonio.dumps({"rid": request_id, "deadline_ms": int(
            time.time() * 1000 + cfg.timeout * 1000)}, indent=None).encode() + b"\n"
        group, join_fds = self.cgroups.take() if self.cgroups else (None, [])
        try:
            pending, collector = with_call_fds(
                lambda fds: self._send(call, list(fds) + join_fds), head + event)
        except BaseException:  # not sent (the zygote is gone): the cgroup goes back
            if group is not None:
                self.cgroups.give_back(group)
            raise
        if stream is not None:
            collector.keep = STREAM_KEEP
        try:
            report, result = _outcome(collector, pending, start + cfg.timeout + GRACE)
        finally:
            collector.close()
            with self._lock:
                self._pending.pop(call["id"], None)
            os.close(pending.done_fd)
            peak = self.cgroups.give_back(group) if group is not None else 0
        out.duration_ms = (time.monotonic() - start) * 1000
        if report is None:  # the zygote died (or hangs: it is killed, the pool starts anew)
            self.kill()
            report = {"status": 9, "rss": 0, "timed_out": False}
        out.max_memory_mb = max((report["rss"] + 1023) // 1024, (peak + (1 << 20) - 1) >> 20)
        classify(out, report["status"], result, report["timed_out"], cfg.timeout)
        header = f"START RequestId: {request_id} Version: $LATEST\n".encode()
        lines = report_lines(out, cfg.memory_mb, call_cgroups.limits_applied())
        if self._first.acquire(blocking=False):  # Lambda reports the init on the first call
            lines = lines.replace(b"\tLimits:", f"\tInit Duration: {self.init_ms:.2f} ms"
                                  "\tLimits:".encode())
        if collector.log and not collector.log.endswith(b"\n"):
            collector.log += b"\n"  # END on a line of its own, as Lambda's
        log = bytes(header + collector.log + lines)
        out.log = log[-LOG_TAIL:]
        if stream is not None:
            stream(log)
        return out

    def kill(self) -> None:
        """Kill the zygote: PID 1 of the jail, so every call it forked dies too."""
        self.alive = False
        try:  # not if reaped (Launch.start reaps a failed set-up): the pid may be reused
            os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            os.kill(self.pid, 9)
        except (ChildProcessError, ProcessLookupError):
            pass
        if not getattr(self, "_reader", None):
            self._reap()
            self.sock.close()
            self._spares.close()

    def close(self) -> None:
        """Kill the zygote and wait until it and its reader are gone."""
        self.kill()
        if getattr(self, "_reader", None):
            self._reader.join()
            self.sock.close()
        if self.cgroups:
            self.cgroups.close()

