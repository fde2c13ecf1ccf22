"""`pycontain fn serve`: the Invoke API for every created function,
Lambda's function API to manage them (fn.server.lambda_api), and HTTP routes to
functions (fn.server.route_app), until SIGTERM or
SIGINT; then in-flight calls get a grace period, every zygote (and with it
every jail) is killed, and nothing is left behind. A server
killed with SIGKILL leaves its calls' cgroups (its jails die with it): the
next one removes them as it starts (fn.server.call_cgroups.remove_leftovers).

SIGUSR1 writes every thread's stack to stderr (so does a shutdown that takes
over SLOW_SHUTDOWN seconds): where a stuck server is stuck."""
import faulthandler
import os
import resource
import signal
import socket
import sys
import threading

from pycontain.errors import PycontainError
from pycontain.fdio import readable
from pycontain.fn.server.call_cgroups import limits_applied, remove_leftovers
from pycontain.fn.registry.fnlogs import Streams
from pycontain.fn.server.gateway import InvokeApi
from pycontain.fn.server.httpd import HttpServer
from pycontain.fn.server.lambda_api import ControlApi
from pycontain.fn.outcome import MAX_EVENT
from pycontain.fn.server.route_app import RouteApp, read_keys, server_error
from pycontain.fn.server.zygote import SPARES
from pycontain.fn.server.zygote_pool import ZygotePool
from pycontain.netaddr import is_loopback_host as is_loopback

REAP_EVERY = 5.0  # seconds between idle-zygote sweeps (at most; a short --idle-ttl: ttl/2)
SLOW_SHUTDOWN = 15.0  # then every thread's stack goes to stderr (shutdown takes 3 graces at most)
FDS_PER_CALL = 16  # a call's pipes, event, cgroup files, its jail's socket (and the zygote's)
BACKLOG = 1024  # connections waiting to be accepted (socket's default of 5 resets a burst)


def _stop_signals():
    """A descriptor that turns readable on SIGTERM or SIGINT. The handler only
    writes to a pipe: it runs in the main thread between any two bytecodes, so
    one that took a lock (threading.Event.set) could deadlock on a lock the
    main thread holds at that moment (Event.wait's own), and never stop."""
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def handler(*_):
        try:
            os.write(wake_w, b"x")
        except BlockingIOError:
            pass
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    return wake_r


def _connections_that_fit(max_connections: int, max_concurrency: int) -> int:
    """Raise the soft limit on open files for max_connections plus the calls'
    own descriptors; how many connections fit (fewer if the hard limit is low)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    reserve = 256 + FDS_PER_CALL * max_concurrency
    if soft < max_connections + reserve:
        soft = max_connections + reserve
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return max(1, min(max_connections, max(soft - reserve, soft // 2)))


def _listen(host: str, port: int, keys) -> socket.socket:
    if not is_loopback(host) and not keys:
        raise PycontainError(f"fn serve binds {host}, not a loopback address, only with "
                             "--api-key-file: Lambda's APIs then need one of its keys "
                             "(x-api-key header)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:  # in use, not an address of this host...
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise PycontainError(f"fn serve cannot listen on {shown}: "
                             f"{os.strerror(exc.errno) if exc.errno else exc}") from None


def serve(host: str = "127.0.0.1", port: int = 9000, max_concurrency: int = 64,
          queue_timeout: float = 10.0, idle_ttl: float = 600.0, grace: float = 5.0,
          spares: int = SPARES, max_connections: int = 4096, read_timeout: float = 10.0,
          keepalive_timeout: float = 60.0, api_key_file: str | None = None) -> None:
    keys = read_keys(api_key_file) if api_key_file else ()
    listener = _listen(host, port, keys)
    log_lock = threading.Lock()

    def log(line: str) -> None:
        with log_lock:
            sys.stderr.write(line)
            sys.stderr.flush()
    max_connections = _connections_that_fit(max_connections, max_concurrency)
    streams = Streams()
    pool = ZygotePool(max_concurrency, queue_timeout, idle_ttl, spares=spares,
                      output=streams.output)
    control = ControlApi(max_concurrency)
    api = InvokeApi(pool, log, control, streams)
    from pycontain.triggers.runner import Runner  # event sources, async queue (issue 21)
    api.triggers = Runner(api.call, log)  # through api.call: calls reach fn logs
    anyone = lambda _host: True  # noqa: E731 - bound beyond loopback: the keys guard
    server = HttpServer(listener, RouteApp(api, log, keys), server_error, log,
                        workers=2 * max_concurrency + 8,
                        max_connections=max_connections, read_timeout=read_timeout,
                        keepalive_timeout=keepalive_timeout, queue_timeout=queue_timeout,
                        max_body=MAX_EVENT, peer_ok=anyone if keys else is_loopback,
                        body_limit=control.body_limit)
    left = remove_leftovers()  # of servers killed with SIGKILL
    stop = _stop_signals()
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1: where is it stuck?
    thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
    thread.start()
    log(f"pycontain fn serve: listening on http://{host}:{listener.getsockname()[1]} "
        f"(max concurrency {max_concurrency}, max connections {max_connections}, "
        f"limits: {limits_applied()})\n")
    if left:
        log(f"pycontain fn serve: removed {len(left)} call cgroups of servers that are gone\n")
    api.triggers.start()  # after the first line: replayed events log their own lines
    try:
        sweep = max(0.1, min(REAP_EVERY, idle_ttl / 2))
        while not readable([stop], sweep):
            pool.reap_idle()
    finally:
        log("pycontain fn serve: shutting down\n")
        faulthandler.dump_traceback_later(SLOW_SHUTDOWN)  # only if something hangs

        def stop_calls():
            api.triggers.stop(grace)  # a batch in flight finishes, or goes back to its queue
            pool.close(grace)
            for task in list(api.tasks):
                task.join(grace)
        server.shutdown(grace, stop_calls)
        thread.join(grace)
        server.server_close()
        faulthandler.cancel_dump_traceback_later()
        sys.stderr.flush()
