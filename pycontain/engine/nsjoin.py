"""--pid, --ipc and --uts: a namespace of the container's own (the default),
the host's (`host`: no new namespace of that kind, so with --pid host its
/proc shows the host's processes), or another running container's
(`container:NAME`: joined through /proc/PID/ns/KIND, as a pod's containers
join its infra container; see engine.spec's RunOptions.join). --ipc host
also binds the host's /dev/shm; a container joining another's IPC namespace
shares its System V objects and message queues, not its /dev/shm (a tmpfs in
that container's mount namespace, which the kernel does not let another
namespace bind).

Joined namespaces are named by the other container's pid, so `start` looks
them up again (`apply`): a container stopped meanwhile is refused, and the
pid it had at `create` (by now perhaps another process's) is not reused."""
import os

from pycontain.errors import PycontainError

# flag -> (OCI type, /proc/PID/ns name, the modes that mean "its own")
KINDS = {"pid": ("pid", "pid", ()), "ipc": ("ipc", "ipc", ("private", "shareable")),
         "uts": ("uts", "uts", ())}
CONTAINER = "container:"
SHM = "/dev/shm"


def _parse(flag: str, value: str):
    """None (its own), 'host', or the container named."""
    own = KINDS[flag][2]
    if value in own:
        return None
    if value == "host":
        return "host"
    if value.startswith(CONTAINER) and len(value) > len(CONTAINER):
        return value[len(CONTAINER):]
    choices = ", ".join(("host", "container:NAME") + own)
    raise PycontainError(f"invalid --{flag} {value!r}: want {choices}")


def modes(opts) -> dict:
    """{flag: 'host' | container name} for the flags that ask for no namespace
    of the container's own; refuses --hostname with --uts host|container."""
    out = {}
    for flag in KINDS:
        value = getattr(opts, flag)
        if value:
            mode = _parse(flag, value)
            if mode is not None:
                out[flag] = mode
    if "uts" in out and opts.hostname is not None:
        raise PycontainError("conflicting options: --hostname and --uts "
                             f"{opts.uts} (the host name is that namespace's)")
    return out


def own_namespaces(opts) -> list:
    """The OCI namespace types of pid, ipc and uts that the container has
    (new or joined): all but those --pid/--ipc/--uts host share with the host."""
    return [KINDS[f][0] for f in KINDS if not (getattr(opts, f) or "") == "host"]


def _running_pid(name: str, flag: str) -> tuple:
    """(pid, id) of the running container name; one line if it is not."""
    from pycontain.engine import state
    from pycontain.engine.orphans import settle

    ctr = state.lookup(name)
    settle(ctr)
    if not ctr.alive():
        raise PycontainError(f"cannot join the {flag} namespace of container {ctr.name}: "
                             "it is not running")
    return ctr.state.pid, ctr.id


def record(chosen: dict) -> dict:
    """The record's `namespaces`, {flag: 'host' | 'container:ID'}, for modes()."""
    return {flag: mode if mode == "host" else CONTAINER + _running_pid(mode, flag)[1]
            for flag, mode in chosen.items()}


def hostname(recorded: dict) -> str | None:
    """The host name of the UTS namespace the container shares: the host's,
    or the one the other container was given (its spec, which we wrote)."""
    from pycontain.engine import state
    from pycontain.fsutil import read_json

    mode = recorded.get("uts")
    if mode == "host":
        return os.uname().nodename
    if mode:
        other = state.lookup(mode[len(CONTAINER):])
        if (other.meta.get("namespaces") or {}).get("uts") == "host":
            return os.uname().nodename
        return read_json(other.path("config.json")).get("hostname")
    return None


def apply(spec: dict, recorded: dict) -> dict:
    """The spec with its namespace paths and /dev/shm as `recorded` says now
    (at create, and again at each start)."""
    if not recorded:
        return spec
    namespaces = spec["linux"]["namespaces"]
    for flag, mode in recorded.items():
        if mode == "host":
            continue
        pid, _ = _running_pid(mode[len(CONTAINER):], flag)
        kind, proc_name, _ = KINDS[flag]
        for ns in namespaces:
            if ns["type"] == kind:
                ns["path"] = f"/proc/{pid}/ns/{proc_name}"
    if "uts" in recorded:
        spec.pop("hostname", None)  # not ours to set
    if recorded.get("ipc") == "host":  # POSIX shared memory too, as docker does
        spec["mounts"] = [dict(m, type="bind", source=SHM, options=["rbind", "rw", "nosuid",
                                                                    "nodev", "noexec"])
                          if m["destination"] == SHM else m for m in spec["mounts"]]
    return spec
