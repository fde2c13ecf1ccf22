"""`logs`: a detached container's output, as written to its log file."""
import os
import time

from pycontain.errors import PycontainError


def copy_log(ctr, out, follow: bool = False, poll: float = 0.05) -> None:
    """Write the log to out; with follow, keep going until the container exits."""
    try:
        f = open(ctr.path("ctr.log"), "rb")
    except FileNotFoundError:
        raise PycontainError(f"container {ctr.name} has no logs (it was not run detached)") from None
    with f:
        while True:
            data = f.read(65536)
            if data:
                out.write(data)
                out.flush()
                continue
            if not follow or not (ctr.alive() or ctr.monitor_alive()):
                if follow:
                    out.write(f.read())
                return
            time.sleep(poll)
            if not os.path.exists(ctr.dir):
                return
