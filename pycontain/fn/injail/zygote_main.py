"""The zygote: a warm Python process in a function's base jail (standalone;
call_setup, beside it, sets up each call's jail).

Runs as the jail's first process with the image's `python3 -I -S`, as the
jail's unprivileged user (no capabilities, no_new_privs, a seccomp profile
that lets it create namespaces). It imports the handler once and keeps a few
*spare* children ready: each is cloned into fresh user and pid namespaces,
unshares fresh net, ipc, uts and mount namespaces, mounts its own /proc, /tmp
and /dev/shm, brings up lo, sets the call's rlimits, drops every capability,
installs the strict seccomp program, hands the engine its socket's other
end, and then blocks on that socket until the engine sends it one call. It
runs the handler once and exits. A *forker*, the zygote's one other child,
clones spares (two at a time, when two are left; while many calls run, up
to one per running call, at most BURST_SPARES) as children of the zygote,
which reaps them. So set-up is off a call's path, and nothing a call does
survives it: once it announced itself a spare holds no descriptor but its
own socket (closed before the handler runs), and the zygote never sees a
call's request id, event or result, nor is its memory written by one.

Protocol on fd 0 (a SOCK_SEQPACKET socket; one JSON message each):
  engine -> init  {handler, bpf (hex), masked, tmp_size, rlimits, spares (how many to keep)}
  zygote -> {"ready": true, "init_ms"} | {"ready": false, "error": error JSON}
  spare -> spare {spare: pid} + fd (the engine's end of the spare's socket: sent on
            fd 0 by a spare the forker made, once it is set up)
  engine -> spare call  {id, timeout} + fds (event, result, log, cgroup tasks...),
            on the spare's socket; then to the zygote {id, timeout, pid}: the
            call's clock starts
  engine -> call  {id, timeout} + fds, when it has no spare: the zygote clones
            one for it
  zygote -> done  {id, status (wait status), rss (KiB), timed_out}
The event descriptor holds the line {rid, deadline_ms}, then the event.
The child writes "STATUS RSS\n" + result to its result pipe and closes its
pipes before exiting, so the engine answers without waiting for the exit;
a call that ends otherwise (crash, timeout) is judged by the zygote's report.
"""
import _signal
import _socket
import array
import gc
import os
import resource
import select
import sys
import time

import runner
from call_setup import CLONE_FLAGS, CLONE_PARENT, Setup, clone as _clone

SETUP_FAILED = 125  # a spare's exit status when its jail or call could not be set up
BURST_SPARES = 16  # spares kept ordered at most while many calls run (see Zygote._target)
EARLY_TTL = 5.0  # seconds an early report waits for its call (see Zygote.early)
MAX_FDS = 3 + 16  # event, result, log + a cgroup `tasks` file per hierarchy
_FDS_SPACE = _socket.CMSG_SPACE(MAX_FDS * 4)


def _send_fds(sock: _socket.socket, data: bytes, fds: list) -> None:
    sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", fds))])


def _recv_fds(sock: _socket.socket) -> tuple:
    """(message, descriptors) of one message (b"" when the peer is gone)."""
    data, ancillary, _, _ = sock.recvmsg(65536, _FDS_SPACE)
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


def _forget_zygote(keep: list) -> None:
    """Drop all the zygote held: every descriptor but those in keep and the
    log (1, 2), its SIGCHLD handler and wakeup fd."""
    _signal.set_wakeup_fd(-1)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    low = 3
    if 0 not in keep:
        os.close(0)
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 1 << 16)


def _run_call(handler, fds: list) -> int:
    """Join the call's cgroup, take its descriptors, run the handler: exit status."""
    event_fd, result_fd, log_fd, *cgroup_tasks = fds
    for fd in cgroup_tasks:  # join the call's cgroup (see pycontain.fn.server.call_cgroups)
        os.write(fd, b"0")
    os.dup2(event_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.dup2(result_fd, 3)
    os.closerange(4, 1 << 16)  # our socket too
    head, _, event = runner._read_all(0).partition(b"\n")
    call = runner.loads(head)
    context = runner.LambdaContext(call["rid"], call["deadline_ms"])
    status, text = runner.invoke(handler, event, context)
    sys.stdout.flush()
    sys.stderr.flush()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runner._write_all(3, f"{status} {rss}\n{text}".encode())
    os.closerange(1, 4)  # the engine has the outcome now, before this process is torn down
    return status


def _spare(setup: Setup, handler, sock: _socket.socket, forget, announce=None) -> None:
    """A spare's life: set up a fresh jail, wait for one call, run it. Never
    returns. announce: (the engine's socket, the engine's end of ours), for a
    spare the forker made: once set up, it hands the engine its end itself
    and closes both, so the engine only ever gives a call to a spare that is
    ready (creating a net namespace can wait hundreds of ms on the kernel's
    locks while others are torn down: a call must not wait on that one spare)."""
    status = SETUP_FAILED
    try:
        _forget_zygote([sock.fileno()] + [s.fileno() for s in announce or ()])
        forget()
        pid = os.readlink("/proc/self")  # in the zygote's pid namespace: before our /proc
        setup.namespaces()
        setup.lock_down()
        if announce is not None:
            engine, ours = announce
            _send_fds(engine, b'{"spare": %s}' % pid.encode(), [ours.fileno()])
            engine.close()
            ours.close()
        data, fds = _recv_fds(sock)
        if data:  # else: the zygote retired us before any call
            status = _run_call(handler, fds)
        else:
            status = 0
    except BaseException as exc:  # noqa: BLE001 - report in the log, exit without a result
        _report_setup_failure(sock, f"pycontain zygote: call setup failed: {exc!r}\n".encode(),
                              announce is None)
    os._exit(status)


def _report_setup_failure(sock: _socket.socket, line: bytes, given: bool) -> None:
    """line to the zygote's log; a spare cloned for a call (given: the call
    is in its socket already) also writes it to that call's log, where its
    caller sees why it ended with SETUP_FAILED."""
    os.write(2, line)
    if not given:
        return
    try:
        sock.setblocking(False)
        _, fds = _recv_fds(sock)
        if len(fds) >= 3:
            os.write(fds[2], line)
    except OSError:
        pass


def _spawn(setup: Setup, handler, flags: int, forget=lambda: None, engine=None) -> tuple:
    """A new spare: (pid, our socket to it: a bare _socket.socket, lighter to
    make); forget() runs first in it, to drop what its parent knows of other
    calls; with engine (its socket), the spare announces itself to it once
    ready (see _spare). OSError if clone failed. (Nothing to flush: after init
    the zygote writes only with os.write.)"""
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        pid = _clone(flags)
    except OSError:
        ours.close()
        theirs.close()
        raise
    if pid == 0:
        _spare(setup, handler, theirs, forget, engine and (engine, ours))
    theirs.close()
    return pid, ours


def _forker(setup: Setup, handler, engine: _socket.socket, orders: _socket.socket) -> None:
    """The forker's life: for each order of n spares, clone them back to back
    as the zygote's children (CLONE_PARENT), each to announce itself to the
    engine once set up; report how many could not be made. Never returns. It
    does little else, so it writes (and so copies) few pages between forks,
    and the zygote, which forks no more, none."""
    try:
        _signal.set_wakeup_fd(-1)
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        while order := orders.recv(16):
            left = int(order)
            try:
                while left:
                    _, ours = _spawn(setup, handler, CLONE_FLAGS | CLONE_PARENT, engine=engine)
                    left -= 1  # made: if the engine does not get it, it ends, counted then
                    ours.close()
            except OSError as exc:  # clone failed
                os.write(2, f"pycontain zygote: no spare: {exc}\n".encode())
                orders.send(b"%d" % left)
    finally:
        os._exit(0)


class Zygote:
    """The zygote's loop: keep the engine supplied with spares (made by the
    forker), start the clock of each call the engine hands one, report how
    each call ended."""

    def __init__(self, sock: _socket.socket, setup: Setup, handler, spares: int):
        self.sock, self.setup, self.handler = sock, setup, handler
        self.spares = spares  # the target when calls are few (--spares)
        self.outstanding = 0  # spares ordered that no call has taken and are not dead
        self.calls = {}  # pid -> [id, deadline, timed_out]
        self.early = {}  # pid -> (status, rss, when), of spares that ended before we heard of
        # their call; one no call claims (the engine found it dead) is dropped after
        # EARLY_TTL seconds, long before its pid could be reused
        self.refill = True  # cleared when a spare could not be made, until the engine's next word
        self.forker, self.orders = self._start_forker()

    def _start_forker(self) -> tuple:
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        pid = _clone(_signal.SIGCHLD)
        if pid == 0:
            ours.close()
            _forker(self.setup, self.handler, self.sock, theirs)
        theirs.close()
        return pid, ours

    def _target(self) -> int:
        """Spares to keep ordered: --spares, or as many as calls are running, up
        to BURST_SPARES (none with --spares 0). A spare is ordered, cloned,
        handed to the engine and claimed in round trips between processes:
        with few of them on their way, a burst against one function waits on
        those trips, not on the CPU."""
        return self.spares and max(self.spares, min(len(self.calls), BURST_SPARES))

    def _top_up(self) -> None:
        """Order spares up to the target (two at least: the forker's pages
        written between forks are then copied once for the batch)."""
        count = self._target() - self.outstanding
        if count <= 0:  # none kept (--spares 0): every call's jail is cloned on demand
            return
        self.orders.send(b"%d" % count)
        self.outstanding += count

    def _handle(self, data: bytes, fds: list) -> None:
        """An engine message: a call it gave to spare `pid`, or (when it had
        none) a call with its descriptors for a new spare."""
        msg = runner.loads(data)
        self.refill = True
        pid = msg.get("pid")
        if pid is None:
            pid = self._start(msg, data, fds)
            if pid is None:
                return
        else:  # a spare: it may have ended before this word came
            early = self.early.pop(pid, None)
            if early is not None and early[2] >= time.monotonic() - EARLY_TTL:  # counted out
                self._done(msg["id"], *early[:2], False)
                return
            self.outstanding -= 1
        self.calls[pid] = [msg["id"], time.monotonic() + msg["timeout"], False]

    def _start(self, call: dict, data: bytes, fds: list):
        """Pass a call to a new spare: its pid (None, reported, if none could be made)."""
        try:
            pid, ours = _spawn(self.setup, self.handler, CLONE_FLAGS, self._forget_calls)
            try:
                _send_fds(ours, data, fds)
            finally:  # what was sent stays readable after we close: the child's only call
                ours.close()
            return pid
        except OSError as exc:
            os.write(2, f"pycontain zygote: {exc}\n".encode())
            self._done(call["id"], SETUP_FAILED << 8, 0, False)
            return None
        finally:
            for fd in fds:
                os.close(fd)

    def _forget_calls(self) -> None:
        """In a spare cloned by the zygote itself: drop the other calls' ids,
        pids and outcomes its copy of our memory holds (reachable from its stack)."""
        self.calls.clear()
        self.early.clear()

    def _done(self, call_id: int, status: int, rss: int, timed_out: bool) -> None:
        """Report how a call ended."""
        self.sock.send(b'{"id": %d, "status": %d, "rss": %d, "timed_out": %s}' % (
            call_id, status, rss, b"true" if timed_out else b"false"))

    def _reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            call = self.calls.pop(pid, None)
            if call is not None:
                self._done(call[0], status, usage.ru_maxrss, call[2])
            elif pid != self.forker:  # a spare that ended before we heard of its call
                self.outstanding -= 1
                if status == SETUP_FAILED << 8:  # order none until the engine's next word
                    self.refill = False
                now = time.monotonic()
                while self.early and next(iter(self.early.values()))[2] < now - EARLY_TTL:
                    del self.early[next(iter(self.early))]  # the oldest first
                self.early[pid] = (status, usage.ru_maxrss, now)

    def _expire(self) -> float | None:
        """Kill calls past their deadline; seconds until the next deadline."""
        now, nearest = time.monotonic(), None
        for pid, call in self.calls.items():
            if call[2]:
                continue
            if call[1] <= now:
                try:
                    os.kill(pid, _signal.SIGKILL)
                except ProcessLookupError:  # long gone (its early report was dropped)
                    pass
                call[2] = True
            else:
                nearest = min(nearest or call[1] - now, call[1] - now)
        return nearest

    def run(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _signal.set_wakeup_fd(wake_w)
        _signal.signal(_signal.SIGCHLD, lambda *_: None)
        poller = select.poll()  # not select(): it cannot take descriptors numbered 1024 or more
        for fd in (self.sock, wake_r, self.orders):
            poller.register(fd, select.POLLIN)
        while True:
            timeout = self._expire()
            if self.refill and self.outstanding <= max(self._target() - 2, 1):
                self._top_up()
            ready = {fd for fd, _ in poller.poll(None if timeout is None else max(0, timeout) * 1000)}
            if self.orders.fileno() in ready:
                unmade = self.orders.recv(16)
                if not unmade:
                    return  # the forker died: so do we (and every jail), the engine starts anew
                self.outstanding -= int(unmade)
                self.refill = False
            if wake_r in ready:
                os.read(wake_r, 4096)  # a byte per signal; more would wake us again
                self._reap()
            if self.sock.fileno() in ready:
                data, fds = _recv_fds(self.sock)
                if not data:
                    return  # the engine went away: PID 1 exits, the kernel kills every call
                self._handle(data, fds)


def main() -> int:
    runner.await_go()  # as a call's runner: the set-up's end, the go-ahead on fd 3
    sock = _socket.socket(fileno=0)
    sys.stdout.reconfigure(line_buffering=True)
    init = runner.loads(sock.recv(1 << 20))
    start = time.monotonic()
    for key in ("_PYCONTAIN_REQUEST_ID", "_PYCONTAIN_DEADLINE_MS"):
        os.environ.pop(key, None)
    try:
        handler = runner.load_handler(init["handler"], os.environ.get("LAMBDA_TASK_ROOT",
                                                                      runner.TASK_ROOT))
        if len(os.listdir("/proc/self/task")) > 1:
            raise runner.Fault("Runtime.ZygoteUnsupported", "the handler module started "
                               "threads at import: it cannot be forked safely")
    except runner.Fault as fault:
        sock.send(runner.dumps({"ready": False, "error": runner._fault_json(fault, "")}).encode())
        return 1
    sys.stdout.flush()
    gc.freeze()  # the collector of a call's process must not write to every page it shares
    sock.send(runner.dumps({"ready": True,
                            "init_ms": (time.monotonic() - start) * 1000}).encode())
    Zygote(sock, Setup(init), handler, init["spares"]).run()
    return 0
