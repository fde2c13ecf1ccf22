"""`exec`: run another process inside a running container's namespaces."""
import os

from pycontain.engine import resources
from pycontain.engine.attach import run_foreground
from pycontain.errors import PycontainError
from pycontain.fsutil import read_json
from pycontain.oci.context import InitContext
from pycontain.oci.process import spawn
from pycontain.oci.security.caps import for_user as caps_for_user
from pycontain.record import Record
from pycontain.userdb import resolve_user


class ExecOptions(Record):
    FIELDS = {"command": [], "interactive": False, "tty": False, "env": [],
              "workdir": None, "user": None}
    __slots__ = tuple(FIELDS)


def exec_process(config: dict, ctr, opts: ExecOptions) -> dict:
    """The container's process spec (from its config) with the exec's command,
    env, cwd and user; its capabilities and no_new_privs are kept (for a
    different user, the capabilities that user would get)."""
    process = dict(config["process"])
    env = dict(e.split("=", 1) for e in process.get("env", []) if "=" in e)
    for item in opts.env:
        key, eq, value = item.partition("=")
        if eq:
            env[key] = value
        elif key in os.environ:
            env[key] = os.environ[key]
    process.update(args=opts.command, terminal=opts.tty,
                   env=[f"{k}={v}" for k, v in env.items()])
    if opts.workdir:
        if not opts.workdir.startswith("/"):
            raise PycontainError(f"the working directory {opts.workdir!r} must be absolute")
        process["cwd"] = opts.workdir
    if opts.user:
        layers = [os.path.join(ctr.meta["store"], d) for d in ctr.meta["lower"]]
        user = resolve_user(opts.user, layers)
        user.pop("home")
        process["user"] = user
        process["capabilities"] = caps_for_user(process.get("capabilities"), user["uid"])
    return process


def exec_launcher(ctr, opts: ExecOptions) -> tuple:
    """(spawn_fn, prepare) for start_process or run_foreground: a process of
    opts in the running container's namespaces, joining its resources."""
    if not ctr.alive():
        raise PycontainError(f"container {ctr.name} is not running")
    if ctr.state.paused:
        raise PycontainError(f"container {ctr.name} is paused: unpause it before exec")
    config = read_json(ctr.path("config.json"))
    spec = {"process": exec_process(config, ctr, opts),  # same caps, seccomp and nnp
            "linux": {"seccomp": config.get("linux", {}).get("seccomp")}}
    pid = ctr.state.pid
    return (lambda stdio: spawn(spec, InitContext(), stdio, opts.tty, join_pid=pid),
            lambda child: resources.join(ctr, child))


def execute(ctr, opts: ExecOptions) -> int:
    spawn_fn, prepare = exec_launcher(ctr, opts)
    return run_foreground(spawn_fn, opts.tty, opts.interactive, prepare=prepare)
