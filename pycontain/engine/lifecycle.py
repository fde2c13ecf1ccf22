"""Lifecycle verbs on an existing container: start, restart, wait, pause,
unpause, rename, attach and top (create and run are in engine.container)."""
import os
import time

from pycontain.engine import names, state
from pycontain.engine.events import container_event, last_exit
from pycontain.engine.orphans import settle
from pycontain.errors import PycontainError
from pycontain.fsutil import read_json, write_json

DOCKER_ERROR = 1  # what docker's client exits with when the daemon refuses


def start(ctr, attach: bool = False, interactive: bool = False):
    """Start a created or exited container under a monitor of its own; with
    attach, relay its output (and with interactive our input) until it exits
    and return its exit code."""
    from pycontain.engine.container import run_detached
    from pycontain.engine.spec import RunOptions

    settle(ctr)
    if ctr.alive():
        if attach:
            return attach_to(ctr, interactive)
        return None
    try:
        spec = read_json(ctr.path("config.json"))
    except FileNotFoundError:
        raise PycontainError(f"container {ctr.name} cannot start: its configuration is "
                             "missing") from None
    if ctr.meta.get("namespaces"):  # --pid/--ipc/--uts container:NAME: its pid now
        from pycontain.engine.nsjoin import apply
        spec = apply(spec, ctr.meta["namespaces"])
    if ctr.meta.get("restart", "no") != "no":
        from pycontain.engine.restart import release
        release(ctr)
    ctr.reset_for_start()
    ctr.keep = True
    opts = RunOptions(tty=ctr.meta.get("tty", False), rm=ctr.meta.get("rm", False),
                      restart=ctr.meta.get("restart") or "no",
                      interactive=ctr.meta.get("interactive", False), detach=True)
    sock = run_detached(ctr, spec, opts, attach=attach)
    if sock is None:
        return None
    with sock:
        return _relay(ctr, sock, interactive)


def attach_to(ctr, interactive: bool = True):
    """`attach`: relay a running detached container's output (and our input)
    until it exits; its exit code, or None if detached with ctrl-p ctrl-q."""
    from pycontain.engine.attach_hub import connect

    if not ctr.alive():
        raise PycontainError("You cannot attach to a stopped container, start it first",
                             DOCKER_ERROR)
    try:
        sock = connect(ctr.run_dir)
    except OSError:
        raise PycontainError(f"container {ctr.name} cannot be attached to: it was not run "
                             "detached", DOCKER_ERROR) from None
    with sock:
        return _relay(ctr, sock, interactive)


def _relay(ctr, sock, interactive: bool):
    from pycontain.engine.attach_hub import DETACH_KEYS, client
    from pycontain.oci.waiting import forward_signals

    tty = ctr.meta.get("tty", False)
    stdin = 0 if interactive and ctr.meta.get("interactive") else None
    saved = None
    if tty and stdin is not None and os.isatty(0):
        import termios
        import tty as ttys
        saved = termios.tcgetattr(0)
        ttys.setraw(0)
    elif not tty and ctr.state.pid:
        forward_signals(ctr.state.pid)  # docker's --sig-proxy
    try:
        code = client(sock, stdin, 1, DETACH_KEYS if tty else b"")
    finally:
        if saved is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
    if code == "gone":  # the monitor died without saying: what its record says
        return wait(state.lookup(ctr.id), 5)
    return code


def wait(ctr, timeout: float | None = None) -> int:
    """Block until the container has exited; its exit code."""
    from pycontain.oci.waiting import wait_gone

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        settle(ctr)
        if ctr.status == state.EXITED and ctr.state.exit_code is not None:
            return ctr.state.exit_code
        if deadline is not None and time.monotonic() > deadline:
            raise PycontainError(f"container {ctr.name} did not exit in time")
        if ctr.alive():
            wait_gone(ctr.state.pid, 1)
        else:
            time.sleep(0.05)
        try:
            ctr = state.load(ctr.id)
        except FileNotFoundError:  # --rm: gone with its record; its `die` event says
            code = last_exit(ctr.id, int(ctr.meta["created"] * 1e9))
            if code is None:
                raise PycontainError(f"no such container: {ctr.name}", DOCKER_ERROR) from None
            return code


def pause(ctr, on: bool = True) -> None:
    """Freeze (pause) or thaw (unpause) the container's processes."""
    from pycontain.engine import cgroup_provider

    if not ctr.alive():
        raise PycontainError(f"container {ctr.name} is not running")
    if on and ctr.state.paused:
        raise PycontainError(f"container {ctr.name} is already paused")
    if not on and not ctr.state.paused:
        raise PycontainError(f"container {ctr.name} is not paused")
    cgroup_provider.freeze(ctr, on)
    ctr.state.paused = on
    ctr.save_state()
    container_event(ctr, "pause" if on else "unpause")


def restart(ctr, timeout: float | None = None, sig: str | None = None) -> None:
    """Stop (if running) and start again, under a new monitor."""
    from pycontain.engine.container import stop

    if ctr.meta.get("rm") and ctr.alive():
        raise PycontainError(f"cannot restart container {ctr.name}: it was run with --rm "
                             "and would be removed when it stops")
    stop(ctr, timeout, sig)
    start(state.load(ctr.id))
    container_event(ctr, "restart")


def rename(ctr, new: str) -> None:
    """Give the container another name (free, valid)."""
    names.validate(new)
    link = os.path.join(state.names_dir(), new)
    try:
        os.symlink(ctr.id, link)
    except FileExistsError:
        raise PycontainError(f'the container name "{new}" is already in use') from None
    old = ctr.meta["name"]
    try:
        write_json(ctr.path("container.json"), dict(ctr.meta, name=new), sync=False)
    except BaseException:
        os.unlink(link)
        raise
    ctr.meta["name"] = new
    try:
        if os.readlink(os.path.join(state.names_dir(), old)) == ctr.id:
            os.unlink(os.path.join(state.names_dir(), old))
    except FileNotFoundError:
        pass
    container_event(ctr, "rename", oldName=old)


def top(ctr, ps_args: list) -> list:
    """`top`: rows of `ps ps_args` (default -ef) for the container's processes,
    the header first."""
    import subprocess

    from pycontain.engine import cgroup_provider

    if not ctr.alive():
        raise PycontainError(f"container {ctr.name} is not running")
    pids = set(cgroup_provider.pids(ctr)) or _descendants(ctr.state.pid)
    args = list(ps_args) or ["-ef"]
    try:
        out = subprocess.run(["ps", *args], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        raise PycontainError("top needs the ps command (procps)") from None
    except subprocess.CalledProcessError as exc:
        raise PycontainError(f"ps {' '.join(args)} failed: {exc.stderr.strip()}") from None
    lines = out.splitlines()
    header = lines[0].split() if lines else []
    if "PID" not in header:
        raise PycontainError(f"ps {' '.join(args)} shows no PID column")
    column = header.index("PID")
    rows = [lines[0]]
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
            rows.append(line)
    return rows


def _descendants(pid: int) -> set:
    """pid and its descendants (no cgroup to ask), bounded by the process count."""
    found, queue = set(), [pid]
    while queue and len(found) < 1 << 16:
        current = queue.pop()
        if current in found:
            continue
        found.add(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    queue.extend(int(p) for p in f.read().split())
        except OSError:
            continue
    return found
