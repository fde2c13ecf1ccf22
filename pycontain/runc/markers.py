"""The files the launcher reads (csrc/runc_fast.c, runc_marker.c) to answer `start`,
`state`, `kill` and `delete` without Python.

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
  waits for it) or `p DIR` (a parent of ours: removed if nothing else is in it);
- state.view: `state` of a live container is its JSON as commands.dispatch
  prints it, but for the status, which the C path reads as Container.status
  does. Then "PID START_TIME", then the freezer to read: `- -` none, `1 FILE`
  (v1 freezer.state), `2 FILE` (v2 cgroup.events), then the JSON text, ASCII,
  with one byte 0x02 where the status goes (JSON never holds a raw control byte).
"""
import os

from pycontain.fsutil import write_atomic
from pycontain.runc.state import DELETE_PLAN, FIFO_ONLY, STATE_VIEW, init_pid

MARKERS = (FIFO_ONLY, DELETE_PLAN, STATE_VIEW)


def removal_order(made, leaves) -> list:
    """(directory, is the cgroup itself) for each directory create made, deepest first."""
    leaves = set(leaves)
    return [(d, d in leaves) for d in sorted(made, key=lambda d: d.count("/"), reverse=True)]


def _delete_plan(data: dict) -> bytes:
    """delete.plan's lines after the first, or None when delete needs Python."""
    init = _the_init(data)
    if init is None or (data.get("hooks") or {}).get("poststop"):
        return None
    saved = data.get("cgroup") or {"dirs": {}, "made": []}
    leaves = list(saved["dirs"].values())
    lines = [f"k {d}" for d in leaves] + \
        [f"{'r' if leaf else 'p'} {d}" for d, leaf in removal_order(saved["made"], leaves)]
    if any("\n" in line or "\0" in line for line in lines):
        return None
    return (init + "".join(line + "\n" for line in lines)).encode()


def _the_init(data: dict):
    """"PID START_TIME" of a container's process, or None (none, or not known so)."""
    pid, started = init_pid(data), data.get("start_time")
    if not pid or type(started) is not int:
        return None
    return f"{pid} {started}\n"


def _state_view(ctr) -> bytes:
    """state.view's lines after the first, or None when `state` needs Python."""
    init = _the_init(ctr.data)
    if init is None:
        return None
    from pycontain.jsonio import dumps
    from pycontain.runc.cgroup import freezer_knob
    token = "status-" + os.urandom(8).hex()
    text = dumps(ctr.oci_state(status=token), indent=2) + "\n"  # as dispatch prints it
    knob = freezer_knob(ctr.data.get("cgroup"))
    freezer = f"{knob[0]} {knob[1]}" if knob else "- -"
    if text.count(token) != 1 or not text.isascii() or "\n" in freezer:
        return None
    return (init + freezer + "\n" + text.replace(token, "\x02")).encode()


def write(ctr, state: bytes) -> None:
    """Replace the markers of a container's directory for its new state (not yet
    written: the caller writes it after, so no marker matches a state it was not made from)."""
    directory, data = ctr.dir, ctr.data
    for name in MARKERS:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    plans = {DELETE_PLAN: _delete_plan(data), STATE_VIEW: _state_view(ctr)}
    if init_pid(data) and not (data.get("hooks") or {}).get("poststart"):
        plans[FIFO_ONLY] = b""
    if not any(plan is not None for plan in plans.values()):
        return
    from zlib import crc32
    head = b"%d %d\n" % (len(state), crc32(state))
    for name, rest in plans.items():
        if rest is not None:
            write_atomic(os.path.join(directory, name), head + rest, sync=False)
