"""RUN: one command in a pycontain container (the engine's own runtime and
default security profile) on an overlay of the stage's layers; its upper
directory becomes the step's layer (layer.upper_to_layer)."""
import contextlib
import os
import time

from pycontain.errors import PycontainError


@contextlib.contextmanager
def _stdout_to_stderr(enabled: bool):
    """-q: the step's output goes to stderr, stdout carries only the id."""
    if not enabled:
        yield
        return
    import sys
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def run_step(store, layer_dirs, cfg: dict, argv: list, network: str, quiet: bool,
             into_layer, extra_mounts=()):
    """Run argv with the image config cfg (Env, User, WorkingDir) on layer_dirs;
    into_layer(upper_dir, mount_destinations) makes the layer when it exits 0;
    extra_mounts: OCI mounts of RUN --mount (build.mounts).
    The container is removed whatever happens."""
    from pycontain.engine import names, state
    from pycontain.engine.container import INIT_BINARY, run_attached
    from pycontain.engine.hostfiles import write_host_files
    from pycontain.engine.spec import RunOptions, build_spec

    if not layer_dirs:
        raise PycontainError("RUN needs a base image with a shell (this stage is FROM scratch)")
    cid = os.urandom(32).hex()
    # init: PID 1 is the tiny init, which hands the command the SIGINT/SIGTERM the
    # build gets (relayed by the engine): a cancelled build stops its RUN step
    opts = RunOptions(image="pycontain-build", command=list(argv), entrypoint="",
                      network=network, rm=False, init=True)
    meta = {"name": names.generate(cid), "image": "pycontain-build", "image_id": "",
            "created": time.time(), "rm": False, "network": network, "tty": False,
            "store": store.root, "lower": [os.path.relpath(d, store.root) for d in layer_dirs],
            "build": True}
    if network not in ("none", "host"):
        from pycontain.net.request import network_request
        meta["net"] = network_request(opts, cfg)
    ctr = state.create_record(cid, meta)
    try:
        hostname = os.uname().nodename if network == "host" else cid[:12]
        etc = write_host_files(ctr.dir, hostname, network)
        spec = build_spec(cfg, layer_dirs, opts.replace(hostname=hostname), cid, etc,
                          INIT_BINARY)
        spec["mounts"] += list(extra_mounts)
        for sub in ("upper", "work", "rootfs"):
            os.mkdir(ctr.path(sub), 0o755)
        from pycontain.fsutil import write_json
        write_json(ctr.path("config.json"), spec, sync=False)
        with _stdout_to_stderr(quiet):
            code = run_attached(ctr, spec, opts)
        if code != 0:
            raise PycontainError(f"{' '.join(argv)!r} returned a non-zero code: {code}",
                                 code if 0 < code < 256 else 125)
        return into_layer(ctr.path("upper"), [m["destination"] for m in spec["mounts"]])
    finally:
        state.delete_record(ctr)
