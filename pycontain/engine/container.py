"""Container lifecycle: create, run (attached or detached), stop, kill, remove."""
import os
import _signal as signal  # not `signal`: its enum import costs ~4 ms per start
import time

from pycontain import paths
from pycontain.engine import names, resources, state
from pycontain.engine.events import container_event
from pycontain.engine.attach import run_foreground, start_process
from pycontain.engine.hostfiles import write_host_files
from pycontain.engine.spec import RunOptions, build_spec
from pycontain.engine.streams import Pipes
from pycontain.errors import PycontainError, from_disk
from pycontain.fsutil import write_json
from pycontain.oci.context import InitContext
from pycontain.oci.process import spawn
from pycontain.oci.waiting import wait_child, wait_gone

INIT_BINARY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "_bin", "pycontain-init")


def _pull(store, ref: str) -> None:
    import sys

    from pycontain.image import progress
    from pycontain.image.pull import pull
    pull(store, ref, progress=progress.for_stream(sys.stderr, False))


def _resolve_image(store, opts: RunOptions):
    """docker's --pull: `missing` pulls an image not in the store, but only for a
    reference naming a registry host (a bare name never reaches out to Docker
    Hub unasked, nor 'localhost/NAME' to port 443); `always` pulls first; `never` uses the store only."""
    if opts.pull == "always":
        _pull(store, opts.image)
    try:
        return store.resolve(opts.image)
    except PycontainError as exc:
        if opts.pull != "missing" or not str(exc).startswith("image not known"):
            raise
        from pycontain.image import reference
        if not reference.names_a_registry(opts.image):
            raise
    _pull(store, opts.image)
    return store.resolve(opts.image)


def create(opts: RunOptions, kept: bool = False):
    """Resolve the image, lay out the container on disk, build its spec.
    kept: made by `create`, to wait for a `start` (system gc leaves it)."""
    from pycontain.image.store import ImageStore

    if opts.hostname is not None:
        names.validate_hostname(opts.hostname)
    store_root = paths.data_root()
    image = _resolve_image(ImageStore(store_root), opts)
    image_cfg = image.config.get("config") or {}
    mounts = _mount_plan(opts, image_cfg)
    settings = _settings(image_cfg, opts)
    cid = os.urandom(32).hex()
    meta = {
        "name": names.validate(opts.name) if opts.name else names.generate(cid),
        "image": image.name, "image_id": image.id, "created": time.time(),
        "rm": opts.rm, "network": opts.network, "tty": opts.tty,
        "interactive": opts.interactive, "stdin_once": opts.interactive and not opts.detach,
        "store": store_root, "kept": kept, "restart": opts.restart,
        "lower": [os.path.relpath(d, store_root) for d in image.layer_dirs],
        **settings,
    }
    net = None
    if opts.network not in ("none", "host") or opts.publish or opts.publish_all \
            or opts.ip or opts.network_aliases:
        from pycontain.net.request import network_request
        net = meta["net"] = network_request(opts, image_cfg)
    extra_hosts = []
    if opts.add_hosts or opts.dns or opts.dns_search or opts.dns_options:
        from pycontain.engine.hostfiles import check_dns_options, extra_hosts as parse_hosts
        check_dns_options(opts)
        extra_hosts = parse_hosts(opts.add_hosts, net["gateway"] if net else "")
        if net:
            net["extra_hosts"] = extra_hosts
    refs, made = mounts.volumes if mounts else [], []
    if refs:
        from pycontain.engine import volumes
        meta["volumes"] = refs
        ctr, made = volumes.claim(refs, lambda: state.create_record(cid, meta))
    else:
        ctr = state.create_record(cid, meta)
    try:
        hostname = os.uname().nodename if opts.network == "host" else (opts.hostname or cid[:12])
        if "namespaces" in settings:
            from pycontain.engine import nsjoin
            hostname = nsjoin.hostname(settings["namespaces"]) or hostname
        etc = write_host_files(ctr.dir, hostname, opts.network, opts,
                               [net["dns"]] if net and net["dns"] else [], extra_hosts)
        spec = build_spec(image_cfg, image.layer_dirs, opts.replace(hostname=hostname),
                          cid, etc, INIT_BINARY)
        if "namespaces" in settings:
            spec = nsjoin.apply(spec, settings["namespaces"])
        if mounts:  # after the namespaces: the sysctl checks see the final ones
            mounts.apply(spec)
        for sub in ("upper", "work", "rootfs"):
            os.mkdir(ctr.path(sub), 0o755)
        if refs:
            volumes.populate(ctr, refs)
        # atomic but not fsynced: a container does not outlive a crash of the
        # machine, and `system gc` removes what such a crash leaves
        write_json(ctr.path("config.json"), spec, sync=False)
    except BaseException:
        state.delete_record(ctr, volumes=True)
        if made:
            volumes.release([], made)  # the named ones made for it too
        raise
    container_event(ctr, "create")
    return ctr, spec


def _mount_plan(opts: RunOptions, image_cfg: dict):
    """-v, --mount, --tmpfs, --shm-size, --sysctl and the image's Volumes,
    checked (engine.mountopts); None if there are none (not imported then)."""
    if not (opts.volumes or opts.mounts or opts.tmpfs or opts.shm_size or opts.sysctls
            or image_cfg.get("Volumes")):
        return None
    from pycontain.engine.mountopts import plan
    return plan(opts, image_cfg)


def _settings(image_cfg: dict, opts: RunOptions) -> dict:
    """What the record keeps of --stop-*, --label, --health-* and --pid/--ipc/--uts
    (each checked here, before anything is made). Each module is imported
    only when asked for: this is the start path of every container."""
    out = {}
    if opts.stop_signal or opts.stop_timeout is not None or image_cfg.get("StopSignal"):
        from pycontain.engine import stopping
        out.update(stopping.settings(image_cfg, opts.stop_signal, opts.stop_timeout))
    if opts.labels or opts.label_files or image_cfg.get("Labels"):
        from pycontain.engine import labels
        out["labels"] = labels.merged(image_cfg, opts.label_files, opts.labels)
    if opts.no_healthcheck or image_cfg.get("Healthcheck") or any(
            value is not None for key, value in opts.as_dict().items()
            if key.startswith("health_")):
        from pycontain.engine import health
        check = health.settings(image_cfg, opts)
        if check:
            out["healthcheck"] = check
    if opts.pid or opts.ipc or opts.uts:
        from pycontain.engine import nsjoin
        chosen = nsjoin.modes(opts)
        if chosen:
            out["namespaces"] = nsjoin.record(chosen)
    return out


def _init_context(ctr: state.Container, spec: dict) -> InitContext:
    meta = ctr.meta
    ctx = InitContext(rootfs=ctr.path("rootfs"),
                      overlay={"base": meta["store"], "lower": meta["lower"],
                               "upper": ctr.path("upper"), "work": ctr.path("work")},
                      hostname=spec.get("hostname"), loopback=meta["network"] != "host",
                      die_with_parent=True)  # no container outlives its monitor (see orphans)
    resources.prepare(ctr, spec, ctx)
    return ctx


def _spawner(ctr, spec, tty: bool):
    return lambda stdio: spawn(spec, _init_context(ctr, spec), stdio, tty)


def _started(ctr):
    def record(pid):
        ctr.set_monitor(os.getpid())
        ctr.set_running(pid)
        container_event(ctr, "start")
        if ctr.meta.get("healthcheck"):
            from pycontain.engine.healthcheck import begin
            begin(ctr)
    return record


def _prepare(ctr, spec):
    """Between creation and start: attach host resources and note the pid on
    disk (with the cgroup's record if there is one), so that `rm -f` and
    `system gc` find the process if its engine dies."""
    def prepare(pid):
        ctr.record_pid(pid)
        resources.attach(ctr, spec, pid)
        ctr.save_unsaved()
    return prepare


def supervise(ctr, pid: int) -> int:
    """Wait for the container's process, record its exit, tidy up if --rm."""
    code = wait_child(pid)
    if getattr(ctr, "checker", 0):
        from pycontain.engine.healthcheck import end
        end(ctr)
    try:
        resources.release(ctr)
    finally:  # recorded even if releasing fails (a network's lease write on a full disk)
        ctr.state.paused = False
        ctr.set_exited(code, save=not ctr.meta.get("rm"))  # --rm: the record goes right away
    finish(ctr, code)
    return code


def finish(ctr, code: int) -> None:
    """After an exit is recorded: its events; an --rm container's record goes."""
    if ctr.state.oom_killed:
        container_event(ctr, "oom")
    container_event(ctr, "die", exitCode=code)
    if ctr.meta.get("rm"):
        state.delete_record(ctr)
        container_event(ctr, "destroy")


def _unstarted(ctr, exc: BaseException) -> None:
    """A container that failed to start: its resources released; a record the
    user made (create, then start) keeps the failure, any other is removed."""
    resources.release(ctr)
    if ctr.keep:
        ctr.state.error = str(exc)
        ctr.set_exited(getattr(exc, "code", 125))
    else:
        state.delete_record(ctr, volumes=True)


def run_attached(ctr, spec, opts: RunOptions) -> int:
    """Run in the foreground, its stdio relayed to ours (or its terminal proxied)."""
    try:
        return run_foreground(_spawner(ctr, spec, opts.tty), opts.tty, opts.interactive,
                              _started(ctr), lambda pid: supervise(ctr, pid),
                              _prepare(ctr, spec))
    except BaseException as exc:
        if ctr.state.status == state.CREATED:  # attached, then failed to start:
            _unstarted(ctr, exc)  # a container that never ran leaves nothing behind
        raise


def run_detached(ctr, spec, opts: RunOptions, attach: bool = False):
    """Fork a monitor that starts the container, then waits for it and records
    its exit; return once the container's command is running. attach: return
    a socket attached to it (engine.attach_hub) before it started."""
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        try:
            os.setsid()
            _monitor(ctr, spec, opts, ready_w, attach)
        finally:
            os._exit(125)  # whatever happens, never unwind into the parent's stack
    os.close(ready_w)
    sock = None
    with os.fdopen(ready_r, "rb") as pipe:
        answer = pipe.read(1)
        if answer == b"L":  # the monitor listens: attach now, before the start
            if attach:
                from pycontain.engine.attach_hub import connect
                sock = connect(ctr.run_dir)
            answer = b""
        answer = (answer + pipe.read()).decode()
    if answer != "ok":
        if sock is not None:
            sock.close()
        code, _, message = answer.partition(":")
        raise PycontainError(message or "container monitor died", int(code or 125))
    return sock


def _monitor(ctr, spec, opts, ready_w: int, attach_first: bool) -> None:
    """Body of a detached container's monitor process. Never returns."""
    from pycontain.engine.attach_hub import Hub, listen

    from pycontain.engine.logfile import NAME, Writer

    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(devnull, target)
    log = os.open(ctr.path(NAME), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    low = 3
    for keep in sorted((ready_w, log)):
        os.closerange(low, keep)
        low = keep + 1
    os.closerange(low, 65536)
    proc = None
    try:
        hub = Hub(listen(ctr.run_dir), ctr.meta.get("stdin_once", False))
        os.write(ready_w, b"L")
        if attach_first:
            hub.accept_first(10)
        pipes = None if opts.tty else Pipes(opts.interactive)
        proc = start_process(_spawner(ctr, spec, opts.tty), pipes, _prepare(ctr, spec))
        _started(ctr)(proc.pid)
    except BaseException as exc:  # noqa: BLE001 - a forked monitor must not unwind
        try:
            if proc is not None:
                proc.abort()  # started, but its record could not say so
            exc = from_disk(exc) or exc
            code, message = ((exc.code, str(exc)) if isinstance(exc, PycontainError)
                             else (125, f"container monitor failed: {exc!r}"))
            try:
                _unstarted(ctr, exc)
            finally:
                os.write(ready_w, f"{code}:{message}".encode())
        finally:
            os._exit(0)
    os.write(ready_w, b"ok")
    os.close(ready_w)
    code = None
    try:
        if proc.master is not None:
            hub.run(proc.pid, {proc.master: "stdout"}, proc.master, Writer(log))
        else:
            outputs = {pipes.stdout: "stdout", pipes.stderr: "stderr"}
            in_fd = pipes.stdin
            pipes.stdout = pipes.stderr = pipes.stdin = None  # the hub's to close
            hub.run(proc.pid, outputs, in_fd, Writer(log))
        code = supervise(ctr, proc.pid)
    finally:
        try:
            hub.finish(code)
            if code is not None and opts.restart != "no":
                from pycontain.engine.restart import after_exit
                after_exit(ctr, code)
        finally:
            os._exit(0)


def run(opts: RunOptions) -> int | str:
    """`pycontain run`: the exit code (attached) or the container id (detached)."""
    if opts.restart != "no":
        from pycontain.engine.restart import check_detached
        check_detached(opts)
    ctr, spec = create(opts)
    if opts.detach:
        run_detached(ctr, spec, opts)
        return ctr.id
    return run_attached(ctr, spec, opts)


def kill(ctr, sig: int = signal.SIGKILL) -> None:
    """Signal the main process. SIGKILL or the stop signal end a restart policy
    (as docker's kill does); another signal (HUP to reload...) keeps it."""
    if ctr.alive() and ctr.meta.get("restart", "no") != "no":
        from pycontain.engine.stopping import plan
        if sig in (signal.SIGKILL, plan(ctr.meta)[0]):
            ctr = _hold(ctr)
    if not ctr.alive():
        raise PycontainError(f"container {ctr.name} is not running")
    os.kill(ctr.state.pid, sig)
    container_event(ctr, "kill", signal=sig)
    _thaw(ctr)


def _hold(ctr):
    """Stopped by hand: its restart policy no longer applies (engine.restart)."""
    if ctr.meta.get("restart", "no") == "no":
        return ctr
    from pycontain.engine.restart import hold
    return hold(ctr)


def _thaw(ctr) -> None:
    """A paused container just signalled: thawed, so that it can act on it."""
    if ctr.state.paused:
        from pycontain.engine.lifecycle import pause
        pause(ctr, False)


def stop(ctr, timeout: float | None = None, sig: str | None = None) -> None:
    """The stop signal, then SIGKILL after the stop timeout (the container's
    own unless given: engine.stopping); wait for the exit."""
    from pycontain.engine.stopping import plan

    ctr = _hold(ctr)
    if not ctr.alive():
        return
    signum, timeout = plan(ctr.meta, timeout, sig)
    os.kill(ctr.state.pid, signum)
    _thaw(ctr)
    if not wait_gone(ctr.state.pid, timeout):
        os.kill(ctr.state.pid, signal.SIGKILL)
        wait_gone(ctr.state.pid, 10)
    _await_monitor(ctr)
    container_event(ctr, "stop")


def _await_monitor(ctr) -> None:
    """Give the monitor a moment to record the exit before we go on."""
    if ctr.state.monitor_pid and ctr.state.monitor_pid != os.getpid():
        wait_gone(ctr.state.monitor_pid, 5)


def remove(ctr, force: bool = False, volumes: bool = False) -> None:
    """`rm`: refuse a running container unless forced; erase it from disk
    (volumes: its anonymous volumes too, `rm -v`)."""
    if force or not ctr.alive():  # (between two runs: no restart of what goes)
        ctr = _hold(ctr)
    if ctr.alive():
        if not force:
            raise PycontainError(f"cannot remove running container {ctr.name}: stop it first "
                                 "or use rm -f")
        os.kill(ctr.state.pid, signal.SIGKILL)
        _thaw(ctr)
        wait_gone(ctr.state.pid, 10)
    _await_monitor(ctr)
    resources.release(ctr)
    state.delete_record(ctr, volumes)
    container_event(ctr, "destroy")
