"""`system gc`: remove what a crashed or SIGKILLed engine left behind.

Mounts need no collecting: they only ever exist in containers' own mount
namespaces and vanish with them. What can remain is on disk (records of
--rm containers whose monitor died, half-created containers, stale state and
name links) and, for a container whose monitor was killed, its processes.
Functions' leftovers are not the engine's business: `pycontain system gc`
adds them (pycontain.cli.system_commands).
"""
import os
import _signal as signal  # not `signal`: its enum import costs ~4 ms per start

from pycontain import paths
from pycontain.engine import resources, state, volumes
from pycontain.engine.orphans import settle
from pycontain.fsutil import remove_tree
from pycontain.oci.waiting import wait_gone


def _orphaned(ctr) -> bool:
    """An --rm container, or one never started, whose monitor is gone (not one
    `create` made: that waits for its `start`, with no monitor)."""
    if ctr.state.status == state.CREATED and ctr.meta.get("kept"):
        return False
    return not ctr.monitor_alive() and (ctr.meta.get("rm") or ctr.state.status == state.CREATED)


def collect() -> list:
    """Clean up; return one line per thing removed."""
    removed = []
    for cid in state.all_ids():
        try:
            ctr = state.load(cid)
        except (FileNotFoundError, ValueError):
            remove_tree(os.path.join(state.containers_dir(), cid))
            removed.append(f"removed incomplete container {cid[:12]}")
            continue
        if settle(ctr):  # (removed too, if --rm)
            removed.append(f"stopped unwatched container {ctr.name} ({cid[:12]})")
            continue
        if not _orphaned(ctr):
            continue
        if ctr.alive():
            os.kill(ctr.state.pid, signal.SIGKILL)
            wait_gone(ctr.state.pid, 10)
        resources.release(ctr)
        state.delete_record(ctr)
        removed.append(f"removed container {ctr.name} ({cid[:12]})")
    known = set(state.all_ids())
    removed += resources.collect(known)
    removed += volumes.collect()
    for cid in _listdir(paths.run_root()):
        if cid not in known and len(cid) == 64:
            remove_tree(os.path.join(paths.run_root(), cid))
            removed.append(f"removed stale state {cid[:12]}")
    for name in _listdir(state.names_dir()):
        link = os.path.join(state.names_dir(), name)
        if os.readlink(link) not in known:
            os.unlink(link)
            removed.append(f"removed stale name {name}")
    return removed


def _listdir(path: str) -> list:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
