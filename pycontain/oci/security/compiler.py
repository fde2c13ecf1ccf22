"""Compile an OCI seccomp section into a BPF program with libseccomp (cffi)."""
import errno
import os

from pycontain.errors import PycontainError

ACTIONS_PLAIN = {"SCMP_ACT_ALLOW": "SCMP_ACT_ALLOW", "SCMP_ACT_LOG": "SCMP_ACT_LOG",
                 "SCMP_ACT_TRAP": "SCMP_ACT_TRAP", "SCMP_ACT_KILL": "SCMP_ACT_KILL_THREAD",
                 "SCMP_ACT_KILL_THREAD": "SCMP_ACT_KILL_THREAD",
                 "SCMP_ACT_KILL_PROCESS": "SCMP_ACT_KILL_PROCESS"}
OPERATORS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
             "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")


def _action(lib, name: str, errno_ret) -> int:
    if name in ACTIONS_PLAIN:
        return getattr(lib, ACTIONS_PLAIN[name])
    code = errno.EPERM if errno_ret is None else int(errno_ret)
    if name == "SCMP_ACT_ERRNO":
        return lib.pyc_act_errno(code)
    if name == "SCMP_ACT_TRACE":
        return lib.pyc_act_trace(code)
    raise PycontainError(f"seccomp action {name} is not supported")


def _arg_groups(args: list) -> list:
    """All conditions in one rule (AND), unless one argument is tested twice:
    then one rule per condition (OR), as runc does."""
    indexes = [a["index"] for a in args]
    if len(set(indexes)) == len(indexes):
        return [args]
    return [[a] for a in args]


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise PycontainError(f"seccomp: {what}: {os.strerror(-rc)}")


def _add_rules(ffi, lib, ctx, rule: dict, default: int) -> None:
    action = _action(lib, rule["action"], rule.get("errnoRet"))
    if action == default:
        return
    for name in rule["names"]:
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number == -1:  # __NR_SCMP_ERROR: no such call on this architecture
            continue
        for group in _arg_groups(rule.get("args") or []):
            if any(a["op"] not in OPERATORS for a in group):
                raise PycontainError(f"seccomp: unknown operator in the rule for {name}")
            conds = ffi.new("struct scmp_arg_cmp[]", max(len(group), 1))
            for i, a in enumerate(group):
                conds[i].arg = a["index"]
                conds[i].op = getattr(lib, a["op"])
                conds[i].datum_a = a["value"]
                conds[i].datum_b = a.get("valueTwo", 0)
            _check(lib.seccomp_rule_add_array(ctx, action, number, len(group), conds),
                   f"rule for {name}")


def compile_bpf(oci: dict) -> bytes:
    """The raw BPF program (struct sock_filter[]) enforcing oci."""
    from pycontain._seccomp import ffi, lib

    default = _action(lib, oci["defaultAction"], oci.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if ctx == ffi.NULL:
        raise PycontainError("seccomp: cannot create a filter (bad default action?)")
    try:
        _check(lib.seccomp_attr_set(ctx, lib.SCMP_FLTATR_CTL_NNP, 0), "attribute")
        # a binary tree of syscall numbers, not a list (libseccomp 2.5+): the kernel
        # checks the program once per syscall number when it loads it (its allow
        # cache), so a list made every start pay ~1 ms
        _check(lib.seccomp_attr_set(ctx, lib.SCMP_FLTATR_CTL_OPTIMIZE, 2), "attribute")
        for arch in oci.get("architectures") or ():
            token = lib.seccomp_arch_resolve_name(arch.lower().replace("scmp_arch_", "").encode())
            if token == 0:
                raise PycontainError(f"seccomp: unknown architecture {arch}")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc != -errno.EEXIST:
                _check(rc, f"architecture {arch}")
        for rule in oci.get("syscalls") or ():
            _add_rules(ffi, lib, ctx, rule, default)
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            _check(lib.seccomp_export_bpf(ctx, fd), "export")
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)
