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
    # the rest of OCI's linux.resources (pycontain-runc's bundles)
    ("memory", "swappiness"): ("linux.resources.memory.swappiness", "memory"),
    ("memory", "kernel"): ("linux.resources.memory.kernel", "memory"),
    ("memory", "kernelTCP"): ("linux.resources.memory.kernelTCP", "memory"),
    ("memory", "disableOOMKiller"): ("linux.resources.memory.disableOOMKiller", "memory"),
    ("cpu", "mems"): ("linux.resources.cpu.mems", "cpuset"),
    ("cpu", "period"): ("linux.resources.cpu.period", "cpu"),
    ("cpu", "realtimeRuntime"): ("linux.resources.cpu.realtimeRuntime", "cpu"),
    ("cpu", "realtimePeriod"): ("linux.resources.cpu.realtimePeriod", "cpu"),
    ("blockIO", "weight"): ("linux.resources.blockIO.weight", "blkio"),
    ("blockIO", "leafWeight"): ("linux.resources.blockIO.leafWeight", "blkio"),
    ("blockIO", "weightDevice"): ("linux.resources.blockIO.weightDevice", "blkio"),
    ("blockIO", "throttleReadBpsDevice"): ("linux.resources.blockIO", "blkio"),
    ("blockIO", "throttleWriteBpsDevice"): ("linux.resources.blockIO", "blkio"),
    ("blockIO", "throttleReadIOPSDevice"): ("linux.resources.blockIO", "blkio"),
    ("blockIO", "throttleWriteIOPSDevice"): ("linux.resources.blockIO", "blkio"),
    ("network", "classID"): ("linux.resources.network.classID", "net_cls"),
    ("network", "priorities"): ("linux.resources.network.priorities", "net_prio"),
}
V2_CONTROLLER = {"blkio": "io", "net_cls": None, "net_prio": None}  # v1 name -> v2 name
THROTTLE = {"throttleReadBpsDevice": ("read_bps_device", "rbps"),
            "throttleWriteBpsDevice": ("write_bps_device", "wbps"),
            "throttleReadIOPSDevice": ("read_iops_device", "riops"),
            "throttleWriteIOPSDevice": ("write_iops_device", "wiops")}
DEFAULT_PERIOD = 100000


def requested(res: dict, version: int = 1) -> list:
    """(flag, controller) for every limit res asks for (v2's controller names
    with version 2; None: no such controller there)."""
    needs = [need for (section, key), need in REQUIRES.items()
             if (res.get(section) or {}).get(key) not in (None, [], False)]
    needs += [(f"linux.resources.hugepageLimits {h.get('pageSize')}", "hugetlb")
              for h in res.get("hugepageLimits") or ()]
    if version == 2:
        needs = [(flag, V2_CONTROLLER.get(c, c)) for flag, c in needs]
    return needs


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
    return out + _v2_more(res)


def _v2_more(res: dict) -> list:
    """v2 files for the OCI fields pycontain's own flags never set."""
    cpu, bio = res.get("cpu") or {}, res.get("blockIO") or {}
    out = []
    if cpu.get("period") is not None and cpu.get("quota") is None:
        out.append(("cpu", "cpu.max", f"max {cpu['period']}"))
    if cpu.get("mems") is not None:
        out.append(("cpuset", "cpuset.mems", cpu["mems"]))
    if bio.get("weight") is not None:
        out.append(("io", "io.weight", f"default {bio['weight']}"))
    for field, (_, key) in THROTTLE.items():
        for dev in bio.get(field) or ():
            out.append(("io", "io.max", f"{dev['major']}:{dev['minor']} {key}={dev['rate']}"))
    for limit in res.get("hugepageLimits") or ():
        out.append(("hugetlb", f"hugetlb.{limit['pageSize']}.max", limit["limit"]))
    return out


def _v1_more(res: dict) -> list:
    """v1 files for the OCI fields pycontain's own flags never set."""
    mem, cpu = res.get("memory") or {}, res.get("cpu") or {}
    bio, net = res.get("blockIO") or {}, res.get("network") or {}
    out = []
    for key, name in (("kernel", "memory.kmem.limit_in_bytes"),
                      ("kernelTCP", "memory.kmem.tcp.limit_in_bytes"),
                      ("swappiness", "memory.swappiness")):
        if mem.get(key) is not None:
            out.append(("memory", name, mem[key]))
    if mem.get("disableOOMKiller"):
        out.append(("memory", "memory.oom_control", 1))
    if cpu.get("period") is not None and cpu.get("quota") is None:
        out.append(("cpu", "cpu.cfs_period_us", cpu["period"]))
    for key, name in (("realtimePeriod", "cpu.rt_period_us"),
                      ("realtimeRuntime", "cpu.rt_runtime_us")):
        if cpu.get(key) is not None:
            out.append(("cpu", name, cpu[key]))
    if cpu.get("mems") is not None:
        out.append(("cpuset", "cpuset.mems", cpu["mems"]))
    for key, name in (("weight", "blkio.weight"), ("leafWeight", "blkio.leaf_weight")):
        if bio.get(key) is not None:
            out.append(("blkio", name, bio[key]))
    for dev in bio.get("weightDevice") or ():
        for key, name in (("weight", "blkio.weight_device"),
                          ("leafWeight", "blkio.leaf_weight_device")):
            if dev.get(key) is not None:
                out.append(("blkio", name, f"{dev['major']}:{dev['minor']} {dev[key]}"))
    for field, (suffix, _) in THROTTLE.items():
        for dev in bio.get(field) or ():
            out.append(("blkio", f"blkio.throttle.{suffix}",
                        f"{dev['major']}:{dev['minor']} {dev['rate']}"))
    if net.get("classID") is not None:
        out.append(("net_cls", "net_cls.classid", net["classID"]))
    for prio in net.get("priorities") or ():
        out.append(("net_prio", "net_prio.ifpriomap", f"{prio['name']} {prio['priority']}"))
    for limit in res.get("hugepageLimits") or ():
        out.append(("hugetlb", f"hugetlb.{limit['pageSize']}.limit_in_bytes", limit["limit"]))
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
    return out + _v1_more(res)
