"""`pycontain fn serve`: the Invoke API for every created function until
SIGTERM or SIGINT; then in-flight calls get a grace period, every zygote
(and with it every jail) is killed, and nothing is left behind. A server
killed with SIGKILL leaves its calls' cgroups (its jails die with it): the
next one removes them as it starts (fn.call_cgroups.remove_leftovers).

SIGUSR1 writes every thread's stack to stderr (so does a shutdown that takes
over SLOW_SHUTDOWN seconds): where a stuck server is stuck."""
import faulthandler
import os
import select
import signal
import sys
import threading

from pycontain.fn.call_cgroups import limits_applied, remove_leftovers
from pycontain.fn.gateway import Gateway
from pycontain.fn.zygote import SPARES
from pycontain.fn.zygote_pool import ZygotePool

REAP_EVERY = 5.0  # seconds between idle-zygote sweeps
SLOW_SHUTDOWN = 15.0  # then every thread's stack goes to stderr (shutdown takes 3 graces at most)


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


def serve(host: str = "127.0.0.1", port: int = 9000, max_concurrency: int = 64,
          queue_timeout: float = 10.0, idle_ttl: float = 600.0, grace: float = 5.0,
          spares: int = SPARES) -> None:
    pool = ZygotePool(max_concurrency, queue_timeout, idle_ttl, spares=spares)
    server = Gateway((host, port), pool)
    left = remove_leftovers()  # of servers killed with SIGKILL
    stop = _stop_signals()
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1: where is it stuck?
    thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
    thread.start()
    bound = server.server_address
    server.log(f"pycontain fn serve: listening on http://{host}:{bound[1]} "
               f"(max concurrency {max_concurrency}, limits: {limits_applied()})\n")
    if left:
        server.log(f"pycontain fn serve: removed {len(left)} call cgroups of servers "
                   "that are gone\n")
    try:
        while not select.select([stop], [], [], REAP_EVERY)[0]:
            pool.reap_idle()
    finally:
        server.log("pycontain fn serve: shutting down\n")
        faulthandler.dump_traceback_later(SLOW_SHUTDOWN)  # only if something hangs
        server.shutdown()
        pool.close(grace)
        for task in list(server.tasks):
            task.join(grace)
        server.active.wait_zero(grace)  # the answers of calls that were cut short
        server.server_close()
        faulthandler.cancel_dump_traceback_later()
        sys.stderr.flush()
