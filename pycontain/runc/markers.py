"""The files csrc/runc_fast.c reads to answer `start`, `kill` and `delete` without Python.

Each begins with the state file's size and CRC-32 ("SIZE CRC", decimal, a
newline): the C path acts only while the state is the one it was written
from, else it leaves the call to Python. A marker is present iff:
- start.fifo-only: `start` is nothing but the exec fifo step (a process to
  start, no poststart hooks); nothing follows the first line;
- delete.plan: deleting the container once it has stopped is nothing but
  removing its cgroups and its directory (a process known by pid and start
  time, no poststop hooks). Then "PID START_TIME" (`kill` signals that
  process while it is alive, as manage.kill does), then one line per cgroup
  directory: `k DIR` for each of the container's cgroups (cgroup.procs must
  be empty, else Python kills what is left), then what create made, in
  removal_order: `r DIR` (the container's own cgroup: it must go, else Python
  waits for it) or `p DIR` (a parent of ours: removed if nothing else is in it).
"""
import os

from pycontain.fsutil import write_atomic
from pycontain.runc.state import DELETE_PLAN, FIFO_ONLY

MARKERS = (FIFO_ONLY, DELETE_PLAN)


def removal_order(made, leaves) -> list:
    """(directory, is the cgroup itself) for each directory create made, deepest first."""
    leaves = set(leaves)
    return [(d, d in leaves) for d in sorted(made, key=lambda d: d.count("/"), reverse=True)]


def _delete_plan(data: dict) -> bytes:
    """delete.plan's lines after the first, or None when delete needs Python."""
    pid, started = data.get("pid"), data.get("start_time")
    if data.get("no_process") or (data.get("hooks") or {}).get("poststop") \
            or not isinstance(pid, int) or not isinstance(started, int):
        return None
    saved = data.get("cgroup") or {"dirs": {}, "made": []}
    leaves = list(saved["dirs"].values())
    lines = [f"{pid} {started}"] + [f"k {d}" for d in leaves] + \
        [f"{'r' if leaf else 'p'} {d}" for d, leaf in removal_order(saved["made"], leaves)]
    if any("\n" in line or "\0" in line for line in lines):
        return None
    return "".join(line + "\n" for line in lines).encode()


def write(directory: str, data: dict, state: bytes) -> None:
    """Replace the markers of a container's directory for its new state (not yet
    written: the caller writes it after, so no marker matches a state it was not made from)."""
    for name in MARKERS:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    plans = {DELETE_PLAN: _delete_plan(data)}
    if not data.get("no_process") and not (data.get("hooks") or {}).get("poststart"):
        plans[FIFO_ONLY] = b""
    if not any(plan is not None for plan in plans.values()):
        return
    from zlib import crc32
    head = b"%d %d\n" % (len(state), crc32(state))
    for name, rest in plans.items():
        if rest is not None:
            write_atomic(os.path.join(directory, name), head + rest, sync=False)
