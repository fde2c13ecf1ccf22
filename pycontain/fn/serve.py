"""`pycontain fn serve`: the Invoke API for every created function until
SIGTERM or SIGINT; then in-flight calls get a grace period, every zygote
(and with it every jail) is killed, and nothing is left behind."""
import signal
import sys
import threading

from pycontain.fn.call_cgroups import limits_applied
from pycontain.fn.gateway import Gateway
from pycontain.fn.zygote_pool import ZygotePool

REAP_EVERY = 5.0  # seconds between idle-zygote sweeps


def serve(host: str = "127.0.0.1", port: int = 9000, max_concurrency: int = 64,
          queue_timeout: float = 10.0, idle_ttl: float = 600.0, grace: float = 5.0) -> None:
    pool = ZygotePool(max_concurrency, queue_timeout, idle_ttl)
    server = Gateway((host, port), pool)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
    thread.start()
    bound = server.server_address
    server.log(f"pycontain fn serve: listening on http://{host}:{bound[1]} "
               f"(max concurrency {max_concurrency}, limits: {limits_applied()})\n")
    try:
        while not stop.wait(REAP_EVERY):
            pool.reap_idle()
    finally:
        server.log("pycontain fn serve: shutting down\n")
        server.shutdown()
        pool.close(grace)
        for task in list(server.tasks):
            task.join(grace)
        server.active.wait_zero(grace)  # the answers of calls that were cut short
        server.server_close()
        sys.stderr.flush()
