"""Run one handler call in a fresh jail (fn.outcome collects what it does).

The jail is the one the launcher built from this invocation's plan (fn.plan)
if that plan is this call's jail, else the jail side the launcher started
(fn.prejail), else a fork of this process.
"""
import os
import time

from pycontain import paths
from pycontain.errors import NOT_FOUND, PycontainError
from pycontain.fn.inprocess_choice import usable
from pycontain.fn.jail import JailConfig, jail_context, jail_path, jail_spec
from pycontain.fn.outcome import (EXIT_BAD_REQUEST, MAX_EVENT, Collector, Outcome, conclude,
                                  error_payload, new_request_id, with_call_fds)


def _launch(spec: dict, ctx, in_process: bool, event: bytes, log_sink, prejail):
    """Start the call's jail: the jail side the launcher started (fn.prejail)
    if there is one, else a fork of ours. (launch, collector)"""
    if prejail is not None:
        launch = prejail.start(spec, ctx, in_process, event)
        return launch, Collector(prejail.result, prejail.log, log_sink)
    from pycontain.oci.process import spawn
    if in_process:
        from pycontain.fn.inprocess import runner_hook
        ctx.replace_exec = runner_hook(spec["process"])
    return with_call_fds(lambda fds: spawn(spec, ctx, fds), event, log_sink)


def _planned(planned, spec: dict, ctx, event: bytes, log_sink):
    """The planned jail (fn.planned) as this call's (launch, collector) if its
    plan is this call's jail and it was built; else None (it is killed then)."""
    launch = planned.start(spec, event) if planned.matches(spec, ctx) else None
    if launch is None:
        planned.dispose()
        return None
    return launch, Collector(planned.result, planned.log, log_sink)


def run_call(cfg: JailConfig, event: bytes, log_sink=None, prejail=None,
             plan=(None, None, None)) -> Outcome:
    """Run one call of cfg's handler with event (JSON bytes). log_sink: an fd
    the log stream is copied to as it arrives (its last 4 KiB are kept in
    Outcome.log either way). prejail: the fn.prejail.PreJail to run the call
    in. plan: (key, planned jail, --event's value) from the launcher
    (fn.plan): the jail it built, used if its plan is this call's; the plan
    of the jail used is recorded under key."""
    out = Outcome(request_id=new_request_id())
    if len(event) > MAX_EVENT:
        out.payload = error_payload("RequestTooLargeException", "Request must be smaller than "
                                    f"{MAX_EVENT} bytes for the InvokeFunction operation", "")
        out.function_error, out.exit_code = "Unhandled", EXIT_BAD_REQUEST
        return out
    from pycontain.image.store import ImageStore

    key, planned, event_source = plan
    if key is not None:  # what the spec is built from, as it is now
        from pycontain.fn.plan import input_fingerprints
        inputs = input_fingerprints(cfg)
    store_root = paths.data_root()
    image = ImageStore(store_root).resolve(cfg.image)
    mount_point = paths.ensure_dir(os.path.join(store_root, "fn", "jail"))
    in_process = usable(image.layer_dirs, jail_path(cfg))
    start = time.monotonic()
    spec = jail_spec(cfg, out.request_id, int(time.time() * 1000 + cfg.timeout * 1000))
    ctx = jail_context(spec, store_root, image.layer_dirs, mount_point)
    ctx.die_with_parent = True  # a one-shot call never outlives this process
    started = planned and _planned(planned, spec, ctx, event, log_sink)
    if not started:
        ctx.record_rootfs = key is not None
        started = _launch(spec, ctx, in_process, event, log_sink, prejail)
    launch, collector = started
    running = None
    if key is not None:  # while the jail is being built; written while the call runs
        from pycontain.fn.plan import Recording
        try:
            recording = Recording(key, cfg, event_source, inputs, spec, ctx,
                                  planned and planned.installed)
            running = lambda launch: recording.keep(launch, planned)  # noqa: E731
        except OSError:
            pass  # the code went away meanwhile: no plan
    try:
        return conclude(out, launch, collector, start, cfg.timeout, cfg.memory_mb, log_sink,
                        running)
    except PycontainError as exc:
        if exc.code == NOT_FOUND:
            raise PycontainError(f"image {cfg.image} has no python3 on its PATH: {exc}",
                                 NOT_FOUND) from None
        raise
