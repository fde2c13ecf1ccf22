"""`pycontain stats`: CPU %, memory usage / limit, block I/O and pids from
the cgroups; network I/O from the container's interfaces (its
/proc/PID/net/dev: the counters of its network namespace)."""
import time

from pycontain.engine import cgroup_provider as provider
from pycontain.oci.cgroups.group import Usage


def host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def human(size: float, binary: bool) -> str:
    """docker's sizes: MiB/GiB for memory, kB/MB for I/O."""
    base, units = (1024.0, ("B", "KiB", "MiB", "GiB", "TiB")) if binary else \
        (1000.0, ("B", "kB", "MB", "GB", "TB"))
    for unit in units:
        if size < base or unit == units[-1]:
            return f"{size:.4g}{unit}" if unit != "B" else f"{int(size)}B"
        size /= base
    return ""


def net_io(pid: int) -> tuple | None:
    """(bytes received, bytes sent) over the interfaces of pid's network
    namespace but lo; None if it cannot be read (the process is gone)."""
    try:
        with open(f"/proc/{pid}/net/dev", "rb") as f:
            lines = f.read(1 << 20).splitlines()[2:]
    except OSError:
        return None
    rx = tx = 0
    for line in lines:
        name, _, counters = line.partition(b":")
        fields = counters.split()
        if name.strip() == b"lo" or len(fields) < 9:
            continue
        rx, tx = rx + int(fields[0]), tx + int(fields[8])
    return rx, tx


def _net_text(ctr) -> tuple:
    """(NET I/O column, rx, tx): "--" for a container without its own network."""
    if not ctr.alive() or ctr.meta.get("network") == "host":
        return "--", 0, 0
    counters = net_io(ctr.state.pid)
    if counters is None:
        return "--", 0, 0
    return f"{human(counters[0], False)} / {human(counters[1], False)}", *counters


def _read(ctrs) -> list:
    now = time.monotonic()
    return [(provider.sample(ctr) if ctr.alive() else None) or Usage() for ctr in ctrs], now


def rows(ctrs, interval: float = 0.5, previous=None):
    """One dict per container; CPU % is measured over interval seconds (or
    since previous, the second value this returned last time). Returns
    (rows, state to pass as previous next time)."""
    before, t0 = previous or _read(ctrs)
    if previous is None:
        time.sleep(interval)
    after, t1 = _read(ctrs)
    total = host_memory()
    out = []
    for ctr, old, new in zip(ctrs, before, after):
        limit = new.memory_limit if new.memory_limit >= 0 else total
        net, rx, tx = _net_text(ctr)
        cpu = max(0, new.cpu_usec - old.cpu_usec) / max(1e-6, (t1 - t0) * 1e6) * 100
        out.append({
            "ID": ctr.id[:12], "Name": ctr.name,
            "CPUPerc": f"{cpu:.2f}%",
            "MemUsage": f"{human(new.memory, True)} / {human(limit, True)}",
            "MemPerc": f"{(new.memory / limit * 100) if limit else 0:.2f}%",
            "NetIO": net,
            "BlockIO": f"{human(new.read_bytes, False)} / {human(new.write_bytes, False)}",
            "PIDs": str(new.pids),
            "CPUUsageUsec": new.cpu_usec, "MemoryUsageBytes": new.memory,
            "MemoryLimitBytes": limit, "BlockReadBytes": new.read_bytes,
            "BlockWriteBytes": new.write_bytes, "NetRxBytes": rx, "NetTxBytes": tx,
        })
    return out, (after, t1)
