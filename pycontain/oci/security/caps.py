"""Linux capabilities: names, docker's default set, and applying the five sets.

Applied with python-prctl's C module `_prctl` (libcap): importing the `prctl`
wrapper costs ~3 ms on every start, `_prctl` a tenth of that. It is imported
here, in the engine, because the container process applies the sets after
pivot_root, where the engine's site-packages are out of reach.
"""
import _prctl

from pycontain import native as n
from pycontain.errors import PycontainError

NAMES = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
    "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
    "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
    "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
    "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
    "CHECKPOINT_RESTORE"
).split()
NUMBERS = {f"CAP_{name}": number for number, name in enumerate(NAMES)}
DEFAULT = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
           "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
           "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


_last_cap = []


def last_cap() -> int:
    """The highest capability number this kernel knows (read once: the engine
    reads it before a container process needs it inside the container)."""
    if not _last_cap:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                _last_cap.append(min(int(f.read()), len(NAMES) - 1))
        except OSError:
            _last_cap.append(len(NAMES) - 1)
    return _last_cap[0]


def all_caps() -> list:
    return [f"CAP_{name}" for name in NAMES[:last_cap() + 1]]


def canonical(name: str) -> str:
    """'net_admin', 'NET_ADMIN' or 'CAP_NET_ADMIN' -> 'CAP_NET_ADMIN'; 'ALL' stays."""
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    full = upper if upper.startswith("CAP_") else "CAP_" + upper
    if full not in NUMBERS:
        raise PycontainError(f"unknown capability {name!r} (see capabilities(7); or ALL)")
    return full


def resolve(add=(), drop=(), privileged: bool = False) -> list:
    """docker's rules: start from the default set (all caps if privileged),
    drop --cap-drop (ALL empties it), then add --cap-add (ALL adds every one)."""
    add = [canonical(c) for c in add]
    drop = [canonical(c) for c in drop]
    if privileged or "ALL" in add:
        return all_caps()
    caps = [] if "ALL" in drop else [c for c in DEFAULT if c not in drop]
    caps += [c for c in add if c not in caps]
    return caps


def process_sets(caps: list, uid: int) -> dict:
    """OCI process.capabilities: a non-root user keeps only the bounding set,
    as in docker (no effective, permitted, inheritable or ambient caps)."""
    granted = list(caps) if uid == 0 else []
    return {"bounding": list(caps), "effective": granted, "permitted": list(granted),
            "inheritable": [], "ambient": []}


def for_user(sets: dict | None, uid: int) -> dict | None:
    """The sets of a process that runs as uid (e.g. `exec -u`), from a container's."""
    return None if sets is None else process_sets(sets.get("bounding", []), uid)


def _numbers(names) -> set:
    return {NUMBERS[n] for n in names if n in NUMBERS}


def drop_bounding(bounding: list) -> None:
    """Drop every capability not in bounding from the bounding set."""
    keep = _numbers(bounding)
    for cap in range(last_cap() + 1):
        if cap not in keep:
            try:  # one call, not a read first: these run on every container start
                _prctl.prctl(_prctl.PR_CAPBSET_DROP, cap)
            except OSError:  # without CAP_SETPCAP: fine if it is gone already
                if _prctl.prctl(_prctl.PR_CAPBSET_READ, cap):
                    raise


def set_sets(sets: dict) -> None:
    """Set the effective, permitted and inheritable sets to exactly what the
    spec lists (limited to what we hold), then the ambient set."""
    every = set(range(last_cap() + 1))
    permitted = _prctl.get_caps([], sorted(every), [])[_prctl.CAP_PERMITTED]
    held = {cap for cap, on in permitted.items() if on}
    want = {name: _numbers(sets.get(name, ())) & held
            for name in ("effective", "permitted", "inheritable")}
    want["permitted"] |= want["effective"]
    _prctl.set_caps(sorted(want["effective"]), sorted(want["permitted"]),
                    sorted(want["inheritable"]), sorted(every - want["effective"]),
                    sorted(every - want["permitted"]), sorted(every - want["inheritable"]))
    n.prctl(n.PR_CAP_AMBIENT, n.PR_CAP_AMBIENT_CLEAR_ALL)
    for cap in sorted(_numbers(sets.get("ambient", ())) & want["permitted"] & want["inheritable"]):
        n.prctl(n.PR_CAP_AMBIENT, n.PR_CAP_AMBIENT_RAISE, cap)
