"""Containers no one watches any more.

A container's monitor (the `run` CLI in the foreground, a forked monitor for
`run -d` and `start`) records its exit. The container's first process dies
with its monitor (PR_SET_PDEATHSIG, engine.container: die_with_parent), so a
monitor killed with SIGKILL leaves a record saying "running" about a process
that is gone, or, for a moment, dying. `settle` makes such a record true:
whatever is left is killed, the container's resources are released and it is
recorded as exited with 137 (killed), or removed if it was run with --rm.
`ps`, `inspect`, `wait`, `start` and `system gc` settle what they look at, so
none of them ever shows "Up" for a container no one watches.
"""
import os
import _signal as signal

from pycontain.engine import resources, state
from pycontain.oci.waiting import wait_gone

KILLED = 128 + 9
WHY = "its monitor died (the engine was killed)"


def unwatched(ctr) -> bool:
    """Recorded running, but its monitor is gone."""
    return ctr.state.status == state.RUNNING and not ctr.monitor_alive()


def settle(ctr) -> bool:
    """Stop and record an unwatched container; True if it was one."""
    if not unwatched(ctr):
        return False
    if ctr.alive():
        try:
            os.kill(ctr.state.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_gone(ctr.state.pid, 10)
    try:
        resources.release(ctr)
    finally:
        ctr.state.paused = False
        ctr.state.error = WHY
        ctr.set_exited(KILLED, save=not ctr.meta.get("rm"))
    from pycontain.engine.container import finish
    finish(ctr, KILLED)
    return True


def listed() -> list:
    """Every container as `ps` and `system df` count them, each settled: one
    being created or removed right now is skipped, and so is one run with
    --rm that settling removed."""
    found = []
    for cid in state.all_ids():
        try:
            ctr = state.load(cid)
        except (FileNotFoundError, ValueError):
            continue  # being created or removed right now
        if settle(ctr) and ctr.meta.get("rm"):
            continue
        found.append(ctr)
    return found
