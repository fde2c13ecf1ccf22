"""Linux namespaces: their clone(2) flags, their OCI names, and which of
them a spec asks to make. Apart from native.py (which re-exports them) so
that what only reads a spec needs no C extension."""
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# OCI namespace type -> (clone flag, name under /proc/PID/ns)
NAMESPACES = {
    "user": (CLONE_NEWUSER, "user"), "mount": (CLONE_NEWNS, "mnt"),
    "pid": (CLONE_NEWPID, "pid"), "uts": (CLONE_NEWUTS, "uts"),
    "ipc": (CLONE_NEWIPC, "ipc"), "network": (CLONE_NEWNET, "net"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
}


def namespace_flags(spec: dict, late: bool = False) -> int:
    """unshare(2) flags for the spec's namespaces that have no path to join:
    those the helper unshares, or (late) the cgroup namespace, which the
    container process unshares itself once the engine has put it in its
    cgroup, so that this cgroup is the root it sees."""
    flags = 0
    for ns in spec.get("linux", {}).get("namespaces", ()):
        if not ns.get("path"):
            flags |= NAMESPACES[ns["type"]][0]
    return flags & CLONE_NEWCGROUP if late else flags & ~CLONE_NEWCGROUP
