"""What processes cost in memory, for fn serve's /status: the PSS (each
shared page divided among the processes that map it, /proc/PID/smaps_rollup)
of a zygote's tree (the zygote, its forker, its spares and running calls:
all the zygote's children, spares being cloned with CLONE_PARENT) and of the
server itself."""
import os

MAX_TREE = 4096  # processes looked at in one tree (a zygote's: ZYGOTE_PROCESSES at most)


def children(pid: int) -> list:
    """pid's child processes (those of its main thread; [] if it is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
            return [int(p) for p in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def tree(pid: int) -> list:
    """pid and its descendants, at most MAX_TREE of them (no recursion)."""
    found, todo = [], [pid]
    while todo and len(found) < MAX_TREE:
        p = todo.pop()
        found.append(p)
        todo += children(p)
    return found


def _rollup(pid: int) -> dict:
    """smaps_rollup's fields in KiB ({} if the process is gone or has no memory)."""
    fields = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                name, _, rest = line.partition(b":")
                value = rest.split()
                if len(value) == 2 and value[1] == b"kB":
                    fields[name.decode()] = int(value[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return fields


def pss_kib(pids) -> int:
    """The processes' PSS together, KiB."""
    return sum(_rollup(pid).get("Pss", 0) for pid in pids)


def zygote_memory(pid: int) -> dict:
    """{pss_kib, processes} of a zygote's whole tree."""
    pids = tree(pid)
    return {"pss_kib": pss_kib(pids), "processes": len(pids)}


def own_memory() -> dict:
    """This process's PSS, RSS and private memory (KiB: what it alone holds, so
    what shows its own growth; its PSS moves as other processes map the same
    files), threads and open descriptors."""
    rollup = _rollup(os.getpid())
    return {"pss_kib": rollup.get("Pss", 0), "rss_kib": rollup.get("Rss", 0),
            "private_kib": rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0),
            "threads": len(os.listdir("/proc/self/task")),
            "fds": len(os.listdir("/proc/self/fd"))}
