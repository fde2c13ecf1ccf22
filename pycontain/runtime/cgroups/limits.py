"""OCI linux.resources -> the cgroup files that enforce them (v2 and v1).

Each function returns (controller, file, value) triples in write order, so the
translation can be tested without a kernel. Docker's semantics: memory.swap is
memory + swap (-1: unlimited swap); with --memory alone the container may use
as much swap as memory; --memory-reservation is a soft limit (memory.low on v2).
"""
# (resource section, key) -> (the flag that asks for it, the controller needed)
REQUIRES = {
    ("memory", "limit"): ("--memory", "memory"),
    ("memory", "swap"): ("--memory-swap", "memory"),
    ("memory", "reservation"): ("--memory-reservation", "memory"),
    ("cpu", "quota"): ("--cpus", "cpu"),
    ("cpu", "shares"): ("--cpu-shares", "cpu"),
    ("cpu", "cpus"): ("--cpuset-cpus", "cpuset"),
    ("pids", "limit"): ("--pids-limit", "pids"),
}
DEFAULT_PERIOD = 100000


def requested(res: dict) -> list:
    """(flag, controller) for every limit res asks for."""
    return [need for (section, key), need in REQUIRES.items()
            if res.get(section, {}).get(key) is not None]


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) -> cpu.weight (1..10000), as runc converts them."""
    return 1 + ((shares - 2) * 9999) // 262142


def _swap_total(mem: dict, swap_supported: bool):
    """The memory+swap total to set (None: leave it), docker's default included."""
    if mem.get("swap") is not None:
        return mem["swap"]
    if mem.get("limit") is not None and swap_supported:
        return 2 * mem["limit"]
    return None


def v2_files(res: dict, swap_supported: bool) -> list:
    mem, cpu, pids = res.get("memory", {}), res.get("cpu", {}), res.get("pids", {})
    out = []
    if mem.get("limit") is not None:
        out.append(("memory", "memory.max", mem["limit"]))
    total = _swap_total(mem, swap_supported)
    if total is not None:
        limit = mem.get("limit")
        out.append(("memory", "memory.swap.max",
                    "max" if total < 0 or limit is None else total - limit))
    if mem.get("reservation") is not None:
        out.append(("memory", "memory.low", mem["reservation"]))
    if cpu.get("quota") is not None:
        quota = "max" if cpu["quota"] <= 0 else cpu["quota"]
        out.append(("cpu", "cpu.max", f"{quota} {cpu.get('period') or DEFAULT_PERIOD}"))
    if cpu.get("shares") is not None:
        out.append(("cpu", "cpu.weight", shares_to_weight(cpu["shares"])))
    if cpu.get("cpus") is not None:
        out.append(("cpuset", "cpuset.cpus", cpu["cpus"]))
    if pids.get("limit") is not None:
        out.append(("pids", "pids.max", pids["limit"] if pids["limit"] > 0 else "max"))
    return out


def v1_files(res: dict, swap_supported: bool, current_memsw: int = -1) -> list:
    """current_memsw: the memsw limit now set, to order memory/memsw writes
    (the kernel refuses a memory limit above memsw, and memsw below memory)."""
    mem, cpu, pids = res.get("memory", {}), res.get("cpu", {}), res.get("pids", {})
    out = []
    if mem.get("limit") is not None:
        out.append(("memory", "memory.limit_in_bytes", mem["limit"]))
    total = _swap_total(mem, swap_supported)
    if total is not None:
        memsw = ("memory", "memory.memsw.limit_in_bytes", total)
        raising = mem.get("limit") is not None and 0 <= current_memsw < mem["limit"]
        out.insert(0 if raising else len(out), memsw)
    if mem.get("reservation") is not None:
        out.append(("memory", "memory.soft_limit_in_bytes", mem["reservation"]))
    if cpu.get("quota") is not None:
        out.append(("cpu", "cpu.cfs_period_us", cpu.get("period") or DEFAULT_PERIOD))
        out.append(("cpu", "cpu.cfs_quota_us", cpu["quota"] if cpu["quota"] > 0 else -1))
    if cpu.get("shares") is not None:
        out.append(("cpu", "cpu.shares", cpu["shares"]))
    if cpu.get("cpus") is not None:
        out.append(("cpuset", "cpuset.cpus", cpu["cpus"]))
    if pids.get("limit") is not None:
        out.append(("pids", "pids.max", pids["limit"] if pids["limit"] > 0 else "max"))
    return out
