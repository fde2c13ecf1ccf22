"""The last steps of a container process before exec, in the order that works.

1. no_new_privs (if asked), so that 2. the seccomp program can be installed
   even by a process that is about to lose CAP_SYS_ADMIN; installing it while
   we still hold every capability is what runc does without no_new_privs, and
   the default profile allows the calls that follow (prctl, capset, set*id);
3. the bounding set, while CAP_SETPCAP is still held;
4. the user switch with keep-caps, so a root container keeps its permitted set;
5. the effective, permitted, inheritable and ambient sets, exactly as listed.
"""
import os

from pycontain import native as n
from pycontain.errors import PycontainError
from pycontain.oci.security import caps


def _setgroups(gids: list) -> None:
    """setgroups, except in a user namespace that forbids it (a rootless
    container with a single-id mapping), where the list must be empty."""
    try:
        os.setgroups(gids)
    except PermissionError:
        with open("/proc/self/setgroups") as f:
            if f.read().strip() != "deny" or gids:
                raise


def switch_user(user: dict) -> None:
    """Become the spec's uid/gid with its additional groups."""
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    try:
        _setgroups(user.get("additionalGids", []))
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError as exc:
        raise PycontainError(f"cannot switch to user {uid}:{gid}: {exc.strerror} "
                             "(in rootless mode only ids mapped by /etc/subuid exist)") from None


def drop_privileges(process: dict, bpf: bytes | None) -> None:
    """Apply the spec's noNewPrivileges, seccomp program (bpf), capabilities and user."""
    if process.get("noNewPrivileges"):
        n.prctl(n.PR_SET_NO_NEW_PRIVS, 1)
    if bpf:
        n.seccomp_load(bpf)
    sets = process.get("capabilities")
    if sets is not None:
        caps.drop_bounding(sets.get("bounding", []))
        n.prctl(n.PR_SET_KEEPCAPS, 1)
    switch_user(process.get("user", {}))
    if sets is not None:
        n.prctl(n.PR_SET_KEEPCAPS, 0)
        caps.set_sets(sets)
