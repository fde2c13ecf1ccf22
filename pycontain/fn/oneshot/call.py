"""Run one handler call in a fresh jail (fn.outcome collects what it does).

As root the engine compiles the jail (fn.oneshot.describe) and the C executor builds
it (native.jail_spawn): the same executor the launcher runs on a cached
description when no engine is needed (fn.oneshot.description_cache). Rootless, where
a user namespace needs its maps written from outside, the OCI core builds it
(fn.jail.starter chooses).
"""
import os
import time

from pycontain import paths
from pycontain.errors import NOT_FOUND, PycontainError
from pycontain.fn.jail import JailConfig, jail_context, jail_spec, starter
from pycontain.fn.outcome import (EXIT_BAD_REQUEST, MAX_EVENT, TOO_LARGE, Outcome, conclude,
                                  error_payload, new_request_id, with_call_fds)


def run_call(cfg: JailConfig, event: bytes, log_sink=None, key=None,
             event_source=None) -> Outcome:
    """Run one call of cfg's handler with event (JSON bytes). log_sink: an fd
    the log stream is copied to as it arrives (its last 4 KiB are kept in
    Outcome.log either way). key: the launcher's name for this `fn exec`
    invocation (fn.oneshot.description_cache), whose --event was event_source: the
    jail's description is cached under it."""
    out = Outcome(request_id=new_request_id())
    if len(event) > MAX_EVENT:
        out.payload = error_payload("RequestTooLargeException", TOO_LARGE, "")
        out.function_error, out.exit_code = "Unhandled", EXIT_BAD_REQUEST
        return out
    from pycontain.image.store import ImageStore

    stamps = None
    if key is not None and os.geteuid() == 0:  # taken before the spec is built from them
        from pycontain.fn.oneshot.description_cache import Stamps
        stamps = Stamps(key, cfg, event_source)
    store_root = paths.data_root()
    image = ImageStore(store_root).resolve(cfg.image)
    mount_point = paths.ensure_dir(os.path.join(store_root, "fn", "jail"))
    start = time.monotonic()
    spec = jail_spec(cfg, out.request_id, int(time.time() * 1000 + cfg.timeout * 1000))
    ctx = jail_context(spec, store_root, image.layer_dirs, mount_point)
    ctx.die_with_parent = True  # a one-shot call never outlives this process
    start_jail, description = starter(spec, ctx)
    launch, collector = with_call_fds(start_jail, event, log_sink)
    running = None
    if stamps is not None:  # written while the call runs (stamps: root's, so a description too)
        running = lambda launch: stamps.save(description)  # noqa: E731
    try:
        return conclude(out, launch, collector, start, cfg.timeout, cfg.memory_mb, log_sink,
                        running)
    except PycontainError as exc:
        if exc.code == NOT_FOUND:
            raise PycontainError(f"image {cfg.image} has no python3 on its PATH: {exc}",
                                 NOT_FOUND) from None
        raise
