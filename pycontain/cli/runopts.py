"""The flags of `pycontain run`, declared once.

The table feeds both the click command (help, errors) and the lean parser
that `pycontain run` uses on its hot path, where importing click alone would
cost more than starting a container.
"""
import os

from pycontain.flagtable import FLAG, MULTI, VALUE, parse
from pycontain.errors import PycontainError
from pycontain.engine.spec import RunOptions

PULL_POLICIES = ("missing", "always", "never")
# (option names, RunOptions field, kind, help)
RUN_FLAGS = (
    (("--rm",), "rm", FLAG, "Remove the container when it exits."),
    (("-d", "--detach"), "detach", FLAG, "Run in the background and print the container id."),
    (("-i", "--interactive"), "interactive", FLAG, "Keep stdin open."),
    (("-t", "--tty"), "tty", FLAG, "Allocate a pseudo-terminal."),
    (("--name",), "name", VALUE, "Name of the container."),
    (("-e", "--env"), "env", MULTI, "Set an environment variable (KEY=VALUE or KEY)."),
    (("--env-file",), "env_files", MULTI, "Read environment variables from a file."),
    (("-v", "--volume"), "volumes", MULTI,
     "Mount [SRC:]DST[:OPTIONS]: SRC a host path, a volume name or none (an anonymous "
     "volume); OPTIONS ro|rw, dev|nodev (default: rw,nodev), nocopy."),
    (("--mount",), "mounts", MULTI,
     "Mount type=bind|volume|tmpfs,source=SRC,target=DST[,readonly][,bind-propagation=P]"
     "[,volume-nocopy][,volume-label=K=V][,tmpfs-size=N][,tmpfs-mode=M]."),
    (("--tmpfs",), "tmpfs", MULTI, "Mount a tmpfs: DST[:OPTIONS] (e.g. /run:size=64m,mode=755)."),
    (("--shm-size",), "shm_size", VALUE, "Size of /dev/shm (e.g. 256m; default 64m)."),
    (("--sysctl",), "sysctls", MULTI,
     "Set a namespaced kernel parameter KEY=VALUE (net.*, kernel.shm*|msg*|sem, fs.mqueue.*)."),
    (("-w", "--workdir"), "workdir", VALUE, "Working directory inside the container."),
    (("-u", "--user"), "user", VALUE, "User: NAME|UID[:GROUP|GID]."),
    (("-h", "--hostname"), "hostname", VALUE, "Container host name."),
    (("--entrypoint",), "entrypoint", VALUE, "Override the image's entrypoint."),
    (("--read-only",), "read_only", FLAG, "Mount the container's root read-only."),
    (("--network", "--net"), "network", VALUE,
     "Network: none (default; bridge with -p/-P; $PYCONTAIN_NETWORK changes the default), "
     "bridge, host or a user network's name."),
    (("-p", "--publish"), "publish", MULTI,
     "Publish a port: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]."),
    (("-P", "--publish-all"), "publish_all", FLAG, "Publish every exposed port on a free host port."),
    (("--expose",), "expose", MULTI, "Expose a port (PORT[/PROTO]) for -P."),
    (("--ip",), "ip", VALUE, "IPv4 address on a user network (default: the lowest free one)."),
    (("--network-alias",), "network_aliases", MULTI,
     "Another name the container has on its user network (DNS and /etc/hosts)."),
    (("--add-host",), "add_hosts", MULTI,
     "Add NAME:ADDRESS to /etc/hosts (ADDRESS host-gateway: the network's gateway)."),
    (("--dns",), "dns", MULTI, "Name server for /etc/resolv.conf (replaces the default ones)."),
    (("--dns-search",), "dns_search", MULTI, "Search domain for /etc/resolv.conf ('.': none)."),
    (("--dns-option",), "dns_options", MULTI, "resolv.conf option (e.g. ndots:2)."),
    (("--pull",), "pull", VALUE,
     "Pull the image: missing (default; only names with a registry host), always, never."),
    (("--init",), "init", FLAG, "Run a tiny init as PID 1 that reaps zombies and forwards signals."),
    (("-m", "--memory"), "memory", VALUE, "Memory limit (e.g. 512m, 2g)."),
    (("--memory-swap",), "memory_swap", VALUE, "Memory plus swap limit; -1: unlimited swap."),
    (("--memory-reservation",), "memory_reservation", VALUE, "Memory soft limit."),
    (("--cpus",), "cpus", VALUE, "Number of CPUs (e.g. 0.5)."),
    (("--cpu-shares",), "cpu_shares", VALUE, "CPU shares (relative weight, default 1024)."),
    (("--cpuset-cpus",), "cpuset_cpus", VALUE, "CPUs the container may use (e.g. 0-1,3)."),
    (("--pids-limit",), "pids_limit", VALUE, "Maximum number of processes (-1: unlimited)."),
    (("--ulimit",), "ulimits", MULTI, "Resource limit NAME=SOFT[:HARD] (e.g. nofile=1024:2048)."),
    (("--cap-add",), "cap_add", MULTI, "Add a Linux capability (or ALL)."),
    (("--cap-drop",), "cap_drop", MULTI, "Drop a Linux capability (or ALL)."),
    (("--device",), "devices", MULTI,
     "Add a host device: HOST[:CONTAINER][:PERMISSIONS] (r, w, m; default rwm)."),
    (("--privileged",), "privileged", FLAG,
     "Give every capability and the host's devices; no seccomp, masked or read-only paths."),
    (("--restart",), "restart", VALUE,
     "Restart policy: no (default), always, on-failure[:MAX-RETRIES], unless-stopped."),
    (("--security-opt",), "security_opt", MULTI,
     "seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false]."),
    (("--stop-signal",), "stop_signal", VALUE,
     "Signal that stops the container (default: the image's StopSignal, else SIGTERM)."),
    (("--stop-timeout",), "stop_timeout", VALUE,
     "Seconds `stop` waits before SIGKILL (default 10; -1: no limit)."),
    (("-l", "--label"), "labels", MULTI, "Set a label KEY=VALUE (over the image's labels)."),
    (("--label-file",), "label_files", MULTI, "Read KEY=VALUE labels from a file."),
    (("--pid",), "pid", VALUE, "PID namespace: host or container:NAME (default: its own)."),
    (("--ipc",), "ipc", VALUE,
     "IPC namespace: private (default), shareable, host or container:NAME."),
    (("--uts",), "uts", VALUE, "UTS namespace: host or container:NAME (default: its own)."),
    (("--health-cmd",), "health_cmd", VALUE, "Healthcheck command (run by /bin/sh -c)."),
    (("--health-interval",), "health_interval", VALUE,
     "Time between healthchecks (e.g. 30s, 1m30s; default 30s)."),
    (("--health-timeout",), "health_timeout", VALUE,
     "Time a healthcheck may take before it fails (default 30s)."),
    (("--health-start-period",), "health_start_period", VALUE,
     "Time after the start in which failed healthchecks do not count (default 0s)."),
    (("--health-retries",), "health_retries", VALUE,
     "Failures in a row that make the container unhealthy (default 3)."),
    (("--no-healthcheck",), "no_healthcheck", FLAG, "Disable any healthcheck (the image's too)."),
)
NETWORKS = ("none", "host", "bridge")  # and user networks (pycontain network create)
_BY_NAME = {name: (dest, kind) for names, dest, kind, _ in RUN_FLAGS for name in names}


def make_options(values: dict, image: str, command) -> RunOptions:
    """RunOptions from parsed flag values; validates what the table cannot."""
    values = {k: (list(v) if isinstance(v, tuple) else v)
              for k, v in values.items() if v is not None}
    default = "bridge" if values.get("publish") or values.get("publish_all") else "none"
    values.setdefault("network", os.environ.get("PYCONTAIN_NETWORK") or default)
    opts = RunOptions(image=image, command=list(command), **values)
    if opts.pull not in PULL_POLICIES:
        raise PycontainError(f"invalid --pull {opts.pull!r}: use " + ", ".join(PULL_POLICIES))
    if opts.restart != "no":
        from pycontain.engine.restart import validate
        validate(opts)
    if opts.network not in NETWORKS:
        from pycontain.net.config import load
        load(opts.network)  # a user network, or "network NAME not found"
    return opts


def fast_parse(args: list):
    """`run`'s arguments parsed without click (see flags.parse)."""
    return parse(args, _BY_NAME)
