"""A classic-BPF interpreter for seccomp programs, and the kernel's rule for
stacked filters: enough to check what a compiled filter answers without
installing it. Raises on an instruction it does not know, so a test using it
cannot pass by misreading a program."""
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
# SECCOMP_RET_* action values, most restrictive first (the kernel's precedence)
PRECEDENCE = (0x80000000, 0x00000000, 0x00030000, 0x00050000, 0x7FC00000, 0x7FF00000,
              0x7FFC0000, 0x7FFF0000)
ACTION_MASK, DATA_MASK = 0xFFFF0000, 0x0000FFFF


def instructions(program: bytes) -> list:
    return [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]


def seccomp_data(nr: int, args=(0,) * 6, arch: int = AUDIT_ARCH_X86_64) -> bytes:
    return struct.pack("=iIQ6Q", nr, arch, 0, *args)


def run(program: list, data: bytes) -> int:
    """The value a seccomp program returns for one seccomp_data."""
    acc = index = 0
    memory = [0] * 16
    x = 0
    for _ in range(100_000):
        code, jt, jf, k = program[index]
        index += 1
        if code == 0x20:                      # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
        elif code == 0x00:                    # ld #k
            acc = k
        elif code == 0x60:                    # ld M[k]
            acc = memory[k]
        elif code == 0x02:                    # st M[k]
            memory[k] = acc
        elif code == 0x07:                    # tax
            x = acc
        elif code == 0x87:                    # txa
            acc = x
        elif code == 0x54:                    # and #k
            acc &= k
        elif code == 0x44:                    # or #k
            acc |= k
        elif code == 0x05:                    # ja k
            index += k
        elif code in (0x15, 0x25, 0x35, 0x45):  # jeq, jgt, jge, jset #k
            taken = {0x15: acc == k, 0x25: acc > k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            index += jt if taken else jf
        elif code == 0x06:                    # ret #k
            return k
        elif code == 0x16:                    # ret a
            return acc
        else:
            raise AssertionError(f"BPF instruction {code:#x} not understood")
    raise AssertionError("BPF program did not return")


def stacked(*answers: int) -> int:
    """What the kernel does with the answers of stacked filters (oldest first):
    the most restrictive action wins; among equals, the newest filter's data."""
    def rank(value):
        return PRECEDENCE.index(value & ACTION_MASK)
    best = min(rank(a) for a in answers)
    return [a for a in answers if rank(a) == best][-1]
