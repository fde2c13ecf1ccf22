"""Build the OCI runtime spec (config.json) from an image config and run options."""
import os

from pycontain.errors import PycontainError
from pycontain.record import Record
from pycontain.oci.defaults import (DEFAULT_PATH, MASKED_PATHS, READONLY_PATHS,
                                    default_devices, default_mounts)
from pycontain.oci.cgroups import ocispec as cgroup_spec
from pycontain.oci.security.config import apply as apply_security
from pycontain.userdb import resolve_user

INIT_PATH = "/dev/init"


class RunOptions(Record):
    """What `pycontain run` was asked for, independent of the CLI."""
    FIELDS = {
        "image": "", "command": [], "entrypoint": None, "env": [], "env_files": [],
        "volumes": [], "workdir": None, "user": None, "hostname": None, "name": None,
        "read_only": False, "network": "none", "init": False, "tty": False,
        "interactive": False, "detach": False, "rm": False,
        "publish": [], "publish_all": False, "expose": [],
        "memory": None, "memory_swap": None, "memory_reservation": None, "cpus": None,
        "cpu_shares": None, "cpuset_cpus": None, "pids_limit": None, "ulimits": [],
        "cap_add": [], "cap_drop": [], "privileged": False, "security_opt": [], "devices": [],
        "pull": "missing",
        "add_hosts": [], "dns": [], "dns_search": [], "dns_options": [], "ip": None,
        "network_aliases": [],
        "mounts": [], "tmpfs": [], "shm_size": None, "sysctls": [],  # engine.mountopts
        "stop_signal": None, "stop_timeout": None, "labels": [], "label_files": [],
        "pid": None, "ipc": None, "uts": None,  # engine.nsjoin
        "health_cmd": None, "health_interval": None, "health_timeout": None,
        "health_start_period": None, "health_retries": None, "no_healthcheck": False,
        "restart": "no",  # engine.restart
        "join": {},  # OCI namespace type -> path to join (a pod's containers join its infra)
    }
    __slots__ = tuple(FIELDS)


def parse_env_file(path: str) -> list:
    """KEY=VALUE lines of a docker env file (comments and blanks skipped)."""
    try:
        with open(path) as f:
            lines = [ln.strip() for ln in f]
    except OSError as exc:
        raise PycontainError(f"cannot read env file {path}: {exc.strerror}") from None
    return [ln for ln in lines if ln and not ln.startswith("#")]


def assign(items, invalid: str) -> dict:
    """KEY=VALUE items as a dict, later ones winning; a bare KEY takes the
    caller's value, if it has one (docker's `-e NAME`, `--build-arg NAME`).
    An empty KEY is refused with invalid.format(item)."""
    values = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise PycontainError(invalid.format(item))
        if eq:
            values[key] = value
        elif key in os.environ:
            values[key] = os.environ[key]
    return values


def merge_env(image_env: list, opts: RunOptions) -> list:
    """Image env, then env files, then -e; `-e NAME` copies the caller's value."""
    items = image_env + [e for f in opts.env_files for e in parse_env_file(f)] + opts.env
    merged = assign(items, "invalid environment variable: {!r}")
    merged.setdefault("PATH", DEFAULT_PATH[5:])
    return [f"{k}={v}" for k, v in merged.items()]


def command_args(image_cfg: dict, opts: RunOptions) -> list:
    """Docker's precedence of --entrypoint, image Entrypoint, command and image Cmd."""
    if opts.entrypoint is not None:
        entry = [opts.entrypoint] if opts.entrypoint else []
        cmd = opts.command
    else:
        entry = image_cfg.get("Entrypoint") or []
        cmd = opts.command or image_cfg.get("Cmd") or []
    args = list(entry) + list(cmd)
    if not args:
        raise PycontainError("no command specified: the image has no Cmd or Entrypoint")
    return args


def build_spec(image_cfg: dict, layer_dirs: list, opts: RunOptions, cid: str,
               etc_files: dict, init_binary: str) -> dict:
    """The OCI runtime spec for a container; etc_files maps /etc paths to host files.
    The user's mounts (-v, --mount, --tmpfs...) are added by engine.mountopts."""
    user = resolve_user(opts.user or image_cfg.get("User") or "", layer_dirs)
    env = merge_env(image_cfg.get("Env") or [], opts)
    hostname = opts.hostname or cid[:12]
    defaults = {"HOSTNAME": hostname, "HOME": user.pop("home") or "/"}
    if opts.tty:
        defaults["TERM"] = "xterm"
    env += [f"{k}={v}" for k, v in defaults.items() if not any(e.startswith(k + "=") for e in env)]
    args = command_args(image_cfg, opts)
    if opts.workdir is not None and not opts.workdir.startswith("/"):
        raise PycontainError(f"the working directory {opts.workdir!r} is invalid: "
                             "it must be an absolute path")
    if opts.init:
        args = [INIT_PATH] + args
    mounts = default_mounts()
    mounts += [{"destination": dst, "type": "bind", "source": src, "options": ["rbind", "rw"]}
               for dst, src in etc_files.items()]
    if opts.init:
        mounts.append({"destination": INIT_PATH, "type": "bind", "source": init_binary,
                       "options": ["bind", "ro", "nosuid"]})
    mounts += cgroup_spec.mounts()
    namespaces = ["pid", "ipc", "uts"]
    if opts.pid or opts.ipc or opts.uts:
        from pycontain.engine.nsjoin import own_namespaces
        namespaces = own_namespaces(opts)
    namespaces += ["mount", "cgroup"]
    namespaces += [] if opts.network == "host" else ["network"]
    spec = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": opts.tty, "user": user, "args": args, "env": env,
            "cwd": opts.workdir or image_cfg.get("WorkingDir") or "/",
            "rlimits": cgroup_spec.rlimits(opts.ulimits),
            "noNewPrivileges": False,
        },
        "root": {"path": "rootfs", "readonly": opts.read_only},
        "hostname": hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": [dict(type=t, **({"path": opts.join[t]} if t in opts.join else {}))
                           for t in namespaces],
            "devices": default_devices(),
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS + cgroup_spec.readonly_paths(),
            "resources": cgroup_spec.resources(opts),
        },
        "annotations": {"org.opencontainers.image.ref.name": opts.image},
    }
    return apply_security(spec, opts)
