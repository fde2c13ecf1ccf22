"""What the run flags and the host's cgroups put in the OCI spec.

resources()  --memory, --cpus ... -> linux.resources (docker's semantics and checks)
rlimits()    --ulimit NAME=SOFT[:HARD] -> process.rlimits
mounts()     the container's /sys/fs/cgroup: cgroup2 on v2; on v1 a tmpfs with each
             hierarchy mounted read-only below it (all seen from the cgroup namespace)
"""
import os

from pycontain.errors import PycontainError
from pycontain.oci.cgroups import hierarchy

UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
MIN_MEMORY = 6 << 20  # docker's minimum
CPU_PERIOD = 100000
CAP_SYS_RESOURCE = 24
CGROUP_OPTIONS = ["nosuid", "noexec", "nodev", "ro"]


def parse_bytes(flag: str, text: str) -> int:
    """'512m', '1g', '1.5G', '64MiB', '1024' -> bytes; '-1' -> -1 (unlimited)."""
    value = text.strip().lower()
    if value == "-1":
        return -1
    for suffix in ("ib", "b"):
        if value.endswith(suffix) and len(value) > len(suffix):
            value = value[: -len(suffix)]
            break
    unit = value[-1] if value and value[-1] in UNITS else ""
    number = value[: len(value) - len(unit)].strip()
    try:
        result = int(float(number) * UNITS[unit])
    except (ValueError, OverflowError):  # 'inf'
        raise PycontainError(f"invalid size for {flag}: {text!r} (e.g. 512m, 2g)") from None
    if result < 0:
        raise PycontainError(f"invalid size for {flag}: {text!r}")
    return result


PID_MAX_LIMIT = 4194304  # the kernel's ceiling for pids.max


def _integer(flag: str, text: str) -> int:
    """A decimal integer, strictly (int() also takes ' 5', '+5', '1_000', '٥')."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise PycontainError(f"invalid value for {flag}: {text!r} (want an integer)")
    return int(text)


def _pids_limit(text: str) -> int:
    """docker's --pids-limit: a number of processes, or 0 or -1 for unlimited
    (-1 in the spec). docker's engine reads any negative as unlimited; other
    negatives are refused here, as the typos they likely are."""
    value = _integer("--pids-limit", text)
    if value in (0, -1):
        return -1
    if not 0 < value <= PID_MAX_LIMIT:
        raise PycontainError(f"invalid --pids-limit {text!r}: give a number of processes "
                             f"(1 to {PID_MAX_LIMIT}), or -1 or 0 for unlimited")
    return value


def parse_cpuset(text: str) -> str:
    """'0-2,4' style CPU list (syntax only; the kernel checks the CPUs exist)."""
    for part in text.split(","):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and (not hi.isdigit() or int(hi) < int(lo))):
            raise PycontainError(f"invalid --cpuset-cpus {text!r} (want e.g. 0-2,4)")
    return text


def _memory(opts) -> dict:
    mem = {}
    if opts.memory is not None:
        mem["limit"] = parse_bytes("--memory", opts.memory)
        if 0 <= mem["limit"] < MIN_MEMORY:
            raise PycontainError("minimum memory limit allowed is 6MB")
    if opts.memory_swap is not None:
        if "limit" not in mem:
            raise PycontainError("--memory-swap needs --memory: set both")
        mem["swap"] = parse_bytes("--memory-swap", opts.memory_swap)
        if 0 <= mem["swap"] < mem["limit"]:
            raise PycontainError("--memory-swap must be at least --memory (it is memory + swap)")
    if opts.memory_reservation is not None:
        mem["reservation"] = parse_bytes("--memory-reservation", opts.memory_reservation)
    return mem


def _cpu(opts) -> dict:
    cpu = {}
    if opts.cpus is not None:
        try:
            cpus = float(opts.cpus)
        except ValueError:
            raise PycontainError(f"invalid --cpus {opts.cpus!r} (want e.g. 0.5)") from None
        available = os.cpu_count() or 1
        if cpus != 0 and not 0.01 <= cpus <= available:
            raise PycontainError(f"--cpus must be between 0.01 and {available} "
                                 f"(this host has {available} CPUs)")
        cpu.update(quota=round(cpus * CPU_PERIOD) or -1, period=CPU_PERIOD)
    if opts.cpu_shares is not None:
        shares = _integer("--cpu-shares", opts.cpu_shares)
        if not 2 <= shares <= 262144:
            raise PycontainError("--cpu-shares must be between 2 and 262144")
        cpu["shares"] = shares
    if opts.cpuset_cpus is not None:
        cpu["cpus"] = parse_cpuset(opts.cpuset_cpus)
    return cpu


def resources(opts) -> dict:
    """linux.resources for the limits asked for ({} when none)."""
    res = {"memory": _memory(opts), "cpu": _cpu(opts), "pids": {}}
    if opts.pids_limit is not None:
        res["pids"]["limit"] = _pids_limit(opts.pids_limit)
    return {k: v for k, v in res.items() if v}


def _has_cap(bit: int) -> bool:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def _limit(spec: str, text: str) -> int:
    if text in ("-1", "unlimited"):
        return -1  # RLIM_INFINITY
    value = _integer(f"--ulimit {spec}", text)
    if value < 0:
        raise PycontainError(f"invalid --ulimit {spec}: limits must not be negative")
    return value


def rlimits(specs: list) -> list:
    """process.rlimits; a hard limit above ours needs CAP_SYS_RESOURCE, so
    without it that fails here, clearly, rather than inside the container."""
    if not specs:
        return []
    import resource

    out = []
    for spec in specs:
        name, eq, values = spec.partition("=")
        rname = "RLIMIT_" + name.upper()
        if not eq or not hasattr(resource, rname):
            raise PycontainError(f"invalid --ulimit {spec!r} (want NAME=SOFT[:HARD], "
                                 "e.g. nofile=1024:2048)")
        soft_text, _, hard_text = values.partition(":")
        soft = _limit(spec, soft_text)
        hard = _limit(spec, hard_text or soft_text)
        unsigned = lambda v: float("inf") if v < 0 else v  # noqa: E731
        if unsigned(soft) > unsigned(hard):
            raise PycontainError(f"invalid --ulimit {spec}: soft limit above the hard limit")
        ours = resource.getrlimit(getattr(resource, rname))[1]
        if unsigned(hard) > unsigned(ours) and not _has_cap(CAP_SYS_RESOURCE):
            raise PycontainError(
                f"--ulimit {spec}: hard limit {'unlimited' if hard < 0 else hard} is above "
                f"this host's {ours}, and raising it needs CAP_SYS_RESOURCE, which pycontain "
                f"does not have: use at most {ours}")
        out.append({"type": rname, "soft": soft, "hard": hard})
    return out


def _mount(destination: str, kind: str, options: list) -> dict:
    return {"destination": destination, "type": kind, "source": kind, "options": options}


def mounts() -> list:
    """Mount entries for the container's /sys/fs/cgroup (none without cgroups)."""
    host = hierarchy.host()
    if host is None:
        return []
    if host.version == 2:
        return [_mount("/sys/fs/cgroup", "cgroup2", CGROUP_OPTIONS)]
    entries = [_mount("/sys/fs/cgroup", "tmpfs",
                      ["nosuid", "noexec", "nodev", "mode=755", "size=64k"])]
    for name in host.mounts:
        entries.append(_mount(f"/sys/fs/cgroup/{name}", "cgroup",
                              CGROUP_OPTIONS + name.split(",")))
    return entries


def readonly_paths() -> list:
    """On v1 the tmpfs holding the hierarchies is made read-only after they are mounted."""
    host = hierarchy.host()
    return ["/sys/fs/cgroup"] if host is not None and host.version == 1 else []
