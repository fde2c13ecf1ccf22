"""The device cgroup: OCI linux.resources.devices -> what the kernel enforces.

v1: lines for the `devices` hierarchy's devices.deny and devices.allow, in order.
v2: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) compiled here and attached
to the cgroup by the C extension (pycontain.native.bpf_device_attach). It
checks the rules last to first and the first that matches decides, which is
what v1 makes of a list that starts by denying everything, as OCI lists do
(spec: oci.defaults.default_device_rules). An allow rule matches when it
grants every access asked for, a deny rule when it names any of them.
"""
import os
import struct

ACCESS = {"m": 1, "r": 2, "w": 4}   # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE
TYPES = {"b": 1, "c": 2}            # BPF_DEVCG_DEV_BLOCK, _CHAR
# eBPF opcodes (linux/bpf.h): class | operation | source
LDX_W, AND32_K, RSH32_K, MOV32_X = 0x61, 0x54, 0x74, 0xbc
MOV64_K, JNE_K, JEQ_K, EXIT = 0xb7, 0x55, 0x15, 0x95


def _any(value) -> bool:
    return value is None or value < 0


def v1_lines(rules: list) -> list:
    """(devices.allow or devices.deny, "TYPE MAJOR:MINOR ACCESS") per rule."""
    out = []
    for rule in rules:
        kind = rule.get("type") or "a"
        ids = "" if kind == "a" else " " + ":".join(
            "*" if _any(rule.get(k)) else str(rule[k]) for k in ("major", "minor"))
        out.append(("devices.allow" if rule.get("allow") else "devices.deny",
                    f"{kind}{ids} {rule.get('access') or 'rwm'}"))
    return out


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, src << 4 | dst, off, imm)


def _rule_block(rule: dict) -> list:
    """The instructions of one rule: on a match, return its verdict; else fall
    through to the next block. Registers: r2 type, r3 access, r4 major, r5 minor."""
    checks = []  # (register, value) that must be equal
    if rule.get("type") in TYPES:
        checks.append((2, TYPES[rule["type"]]))
    checks += [(reg, rule[key]) for reg, key in ((4, "major"), (5, "minor"))
               if not _any(rule.get(key))]
    access = sum(ACCESS[c] for c in set(rule.get("access") or "rwm"))
    allow = bool(rule.get("allow"))
    # (opcode, dst, src, imm, jumps out) for each instruction of the block
    body = [(JNE_K, reg, 0, value, True) for reg, value in checks]
    body += [(MOV32_X, 6, 3, 0, False),
             (AND32_K, 6, 0, (~access & 7) if allow else access, False),
             (JNE_K if allow else JEQ_K, 6, 0, 0, True),
             (MOV64_K, 0, 0, int(allow), False), (EXIT, 0, 0, 0, False)]
    return [_insn(code, dst, src, len(body) - i - 1 if out else 0, imm)
            for i, (code, dst, src, imm, out) in enumerate(body)]


def program(rules: list) -> bytes:
    """The eBPF program enforcing rules (a list of OCI device rules)."""
    head = [_insn(LDX_W, 2, 1, 0), _insn(AND32_K, 2, imm=0xFFFF),   # type
            _insn(LDX_W, 3, 1, 0), _insn(RSH32_K, 3, imm=16),       # access
            _insn(LDX_W, 4, 1, 4), _insn(LDX_W, 5, 1, 8)]            # major, minor
    blocks = [insn for rule in reversed(rules) for insn in _rule_block(rule)]
    return b"".join(head + blocks + [_insn(MOV64_K, 0, imm=1), _insn(EXIT)])


def enforcement(host, rootless: bool) -> str:
    """What enforces the device rules on this host (for `pycontain info`)."""
    if rootless:
        return "user namespace (no device nodes can be made), nodev volumes"
    if host is not None and host.version == 2:
        return "cgroup v2 eBPF program, nodev volumes"
    if host is not None and host.mount_for("devices"):
        return "cgroup v1 devices controller, nodev volumes"
    return "nodev mounts only (no device cgroup on this host)"


def attach(cgroup_dir: str, rules: list) -> None:
    """Attach the program for rules to a v2 cgroup (it stays until the cgroup goes)."""
    from pycontain import native
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        native.bpf_device_attach(fd, program(rules))
    finally:
        os.close(fd)
