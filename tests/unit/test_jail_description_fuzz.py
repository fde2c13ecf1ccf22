"""csrc/jail_exec.c's checker (native.jail_check) on mutated descriptions:
a description is an engine's file in the store, read by a root launcher;
whatever its bytes, the checker must neither crash nor read out of bounds,
and must refuse what is not whole. The checks run in a child process: a
crash kills it by a signal, which fails the test."""
import random
import struct
import subprocess
import sys

from pycontain.fn.oneshot.describe import MAGIC, encode, encode_op

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
ENV = ("PATH=/usr/local/bin:/usr/bin:/bin", "_PYCONTAIN_HELPER=1")
STAMPS = ("T", "0123456789abcdef", "/opt/venv/bin", "/home/u", 4, 8, 2, "handler.py",
          "--event={}", 1, "PATH=/bin", "handler.py", "/home/u/handler.py", "3.0", 128,
          "/home/u/handler.py", "2049:131:33188:42:1:1")


def _lockdown(uid_op=("V", 1000)):
    return [("H", "localhost"), ("R", 7, 1024, 1024), ("A", "/var/task", 0o755),
            ("d", "/var/task"), ("W", 38, 1), ("S", bytes(8) * 4),
            *(("B", cap) for cap in range(41)), ("W", 8, 1), ("G",), ("g", 1000), uid_op,
            ("W", 8, 0), ("K", 0, 0, 0), ("W", 47, 4), ("W", 1, 9),
            ("E", "python3", 3, "python3", "-c", "print(1)", *ENV)]


def _seeds() -> list:
    root = [("U", 0x20000 | 0x4000000 | 0x8000000 | 0x40000000), ("p",),
            ("Q", "/var/lib/pycontain/fn/jail", "1m"),
            ("o", "/var/lib/pycontain", "layers/b:layers/a", MS_NODEV),
            ("m", "proc", None, "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
            ("m", "tmpfs", "tmpfs", "/dev", MS_NOSUID, "mode=755,size=65536k"),
            ("b", "/dev/null", "/dev/null", MS_NOSUID), ("l", "/proc/self/fd", "/dev/fd"),
            ("b", "/home/u", "/var/task", MS_RDONLY | MS_NOSUID | MS_NODEV), ("P",),
            ("Y", 2), ("u", ".", 2), ("I",), ("d", "/"), ("Z", "/proc/kcore"),
            ("z", "/proc/sys"), ("r",)]
    return [encode(root + _lockdown()), encode(root + _lockdown(), STAMPS),
            encode(root[:4] + [("P",), ("d", "/")] + _lockdown(("J", 100000)), STAMPS),
            encode([("U", 0x20000), ("E", "/bin/true", 1, "/bin/true")])]


def _fields(data: bytes):
    """(offsets of the u32 lengths and counts, offsets of the op codes) of a seed."""
    lengths, codes = [8], []
    at = 12 + int.from_bytes(data[8:12], "little")
    if at > 12:
        _walk_op(data, 12, lengths, codes)
    lengths.append(at)
    count, at = int.from_bytes(data[at:at + 4], "little"), at + 4
    for _ in range(count):
        at = _walk_op(data, at, lengths, codes)
    return lengths, codes


def _walk_op(data, at, lengths, codes):
    codes.append(at)
    nargs, at = int.from_bytes(data[at + 1:at + 3], "little"), at + 3
    for _ in range(nargs):
        lengths.append(at)
        size = int.from_bytes(data[at:at + 4], "little")
        at += 4 + (0 if size == 0xFFFFFFFF else size + 1)
    return at


def _mutate(rng: random.Random, data: bytes) -> bytes:
    lengths, codes = _fields(data)
    raw = bytearray(data)
    kind = rng.randrange(7)
    if kind == 0:  # bit flips
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # a truncation
        del raw[rng.randrange(len(raw)):]
    elif kind == 2:  # bytes inserted
        at = rng.randrange(len(raw) + 1)
        raw[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == 3:  # a stretch duplicated
        at = rng.randrange(len(raw))
        raw[at:at] = raw[at:at + rng.randint(1, 64)]
    elif kind == 4:  # a length or count set to something else
        at = rng.choice(lengths)
        value = rng.choice([0, 1, 0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, len(raw), len(raw) - at,
                            rng.randrange(1 << 32)])
        raw[at:at + 4] = struct.pack("<I", value)
    elif kind == 5:  # an op code swapped
        raw[rng.choice(codes)] = ord(rng.choice("UpQombilPYuIZzrHRAdWSBGgVJKETMDFNOCL\0\xff"))
    else:  # an argument count changed
        at = rng.choice(codes) + 1
        raw[at:at + 2] = struct.pack("<H", rng.choice([0, 1, 2, 5, 1024, 1025, 0xFFFF]))
    return bytes(raw)


CHECKER = """
import sys
from pycontain import native
data = sys.stdin.buffer.read()
out, at = bytearray(), 0
while at < len(data):
    size = int.from_bytes(data[at:at + 4], "little")
    out.append(native.jail_check(data[at + 4:at + 4 + size]))
    at += 4 + size
sys.stdout.buffer.write(bytes(out))
"""


def check_all(descriptions: list) -> list:
    """native.jail_check of each, in one child; fails if that child crashes."""
    batch = b"".join(len(d).to_bytes(4, "little") + d for d in descriptions)
    done = subprocess.run([sys.executable, "-I", "-c", CHECKER], input=batch,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, f"the checker died ({done.returncode}): {done.stderr[-500:]}"
    assert len(done.stdout) == len(descriptions)
    return [bool(b) for b in done.stdout]


def test_mutated_descriptions_never_crash_the_checker():
    rng = random.Random(16)
    seeds = _seeds()
    mutants = [_mutate(rng, rng.choice(seeds)) for _ in range(6000)]
    results = check_all(seeds + mutants)
    assert all(results[:len(seeds)]), "a seed was refused"
    accepted = sum(results[len(seeds):])
    assert accepted < len(mutants) // 2  # most mutations break something


def test_what_is_not_whole_is_refused():
    seeds = _seeds()
    cases = []
    for seed in seeds:
        cases += [seed[:cut] for cut in range(0, len(seed), max(1, len(seed) // 200))]
        cases += [seed[:-1], seed + b"\0", seed + encode_op(("E", "x", 1, "x"))]
    assert not any(check_all(cases))


def test_the_first_op_makes_a_mount_namespace_and_only_the_last_execs():
    exec_op = ("E", "/bin/true", 1, "/bin/true")
    refused = [
        encode([("p",), ("U", 0x20000), exec_op]),          # the first op is not U
        encode([("U", 0x4000000), exec_op]),                 # a U without CLONE_NEWNS
        encode([("U", 0x20000), ("p",)]),                    # no exec at the end
        encode([("U", 0x20000), exec_op, exec_op]),          # an exec before the last op
        encode([("U", 0x20000), ("Y", 1), exec_op]),         # a helper that would exec
        encode([("U", 0x20000), ("Y", 2), ("Y", 0), ("I",), exec_op]),  # a nested helper
        encode([("U", 0x20000), ("Y", 5), ("I",), exec_op]),  # a helper past the end
        encode([("U", 0x20000), ("Y", 2**64 - 1), ("I",), exec_op]),
        encode([("U", "0x20000"), exec_op]),                 # not decimal
        encode([("U", "+131072"), exec_op]),
        encode([("U", " 131072"), exec_op]),
        encode([("U", "99999999999999999999999"), exec_op]),
        encode([("U", 0x20000), ("b", None, "/x", 0), exec_op]),  # only m's src may be null
        encode([("U", 0x20000), ("m", None, None, "/x", 0, None), exec_op]),
        encode([("U", 0x20000), ("P", "/a", "/b"), exec_op]),     # the old P
        encode([("U", 0x20000), ("M", "a", "b", "c", 0, None), exec_op]),  # gone
        encode([("U", 0x20000), ("E", "x", 0, "x")]),        # no argv
        encode([("U", 0x20000), ("E", "x", 3, "x")]),        # more argv than there is
        encode([("U", 0x20000), ("T", "x"), exec_op]),       # stamps among the ops
        encode([("U", 0x20000), exec_op], ("U", 0x20000)),   # stamps that are not T
        encode([("U", 0x20000), exec_op], ("T", None)),
        b"PYCJAIL2" + encode([("U", 0x20000), exec_op])[8:],
    ]
    accepted = [encode([("U", 0x20000), exec_op]),
                encode([("U", 0x20000), ("m", "proc", None, "/proc", 0, None), exec_op]),
                encode([("U", 0x20000), ("Y", 1), ("I",), exec_op]),
                encode([("U", 0x20000), ("G", 1, 2, 3), exec_op], ("T",))]
    assert check_all(refused + accepted) == [False] * len(refused) + [True] * len(accepted)


def test_sizes_are_bounded():
    exec_op = ("E", "/bin/true", 1, "/bin/true")
    big = encode([("U", 0x20000), ("H", "x" * (1 << 20)), exec_op])
    many = encode([("U", 0x20000), ("G", *range(1025)), exec_op])
    most = encode([("U", 0x20000), ("G", *range(1024)), exec_op])
    assert check_all([big, many, most, MAGIC + bytes(8)]) == [False, False, True, False]
