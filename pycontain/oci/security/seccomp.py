"""Seccomp profiles: docker's format in, the OCI form for the spec, BPF out.

A profile (pycontain's default or `--security-opt seccomp=FILE.json`, both in
docker's format with archMap, includes and excludes) is first resolved for
this machine and the container's capability set into the OCI
`linux.seccomp` section; that section is compiled by libseccomp into a BPF
program. Both steps are cached under <data root>/cache/seccomp, keyed by the
sha256 of their input, so a container start costs two small file reads and
the kernel call that installs the program; libseccomp and `json` are loaded
only when the cache misses.
"""
import marshal
import os
from _sha256 import sha256  # hashlib would load OpenSSL: ~2 ms per start

from pycontain import paths
from pycontain.errors import PycontainError

DEFAULT = os.path.join(os.path.dirname(__file__), "profiles", "default.json")
FORMAT = b"pycontain-seccomp-2\0"
# uname machine -> (libseccomp native arch, docker's arch name for includes)
MACHINES = {"x86_64": ("SCMP_ARCH_X86_64", "amd64"), "aarch64": ("SCMP_ARCH_AARCH64", "arm64"),
            "riscv64": ("SCMP_ARCH_RISCV64", "riscv64"), "s390x": ("SCMP_ARCH_S390X", "s390x"),
            "ppc64le": ("SCMP_ARCH_PPC64LE", "ppc64le")}


def cache_dir() -> str:
    return paths.ensure_dir(paths.cache_path("seccomp"))


def _cached(key: str, suffix: str, make):
    """The bytes stored under key, or make() stored there first."""
    from pycontain.fsutil import write_atomic
    path = os.path.join(cache_dir(), key + suffix)
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data:
            return data
    except FileNotFoundError:
        pass
    data = make()
    write_atomic(path, data, mode=0o600)
    return data


def read_profile(source: str) -> bytes:
    """The bytes of a docker-format profile: 'default' or a file path."""
    path = DEFAULT if source == "default" else source
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise PycontainError(f"cannot read seccomp profile {source}: {exc.strerror}") from None


def _kernel() -> tuple:
    release = os.uname().release.split("-")[0]
    return tuple(int(p) for p in release.split(".")[:2] if p.isdigit())


def _at_least(version: str) -> bool:
    """Whether this kernel is version ("4.8") or later."""
    return _kernel() >= tuple(int(p) for p in version.split(".")[:2])


def _applies(rule: dict, caps: set, goarch: str) -> bool:
    """docker's includes/excludes: every included cap held, the arch listed,
    the kernel recent enough; no excluded cap held, the arch not excluded,
    the kernel older than an excluded minKernel."""
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if any(c not in caps for c in inc.get("caps") or ()):
        return False
    if inc.get("arches") and goarch not in inc["arches"]:
        return False
    if inc.get("minKernel") and not _at_least(inc["minKernel"]):
        return False
    if any(c in caps for c in exc.get("caps") or ()):
        return False
    if exc.get("minKernel") and _at_least(exc["minKernel"]):
        return False
    return goarch not in (exc.get("arches") or ())


def to_oci(profile: dict, caps, machine: str) -> dict:
    """Resolve a docker-format profile into an OCI linux.seccomp section."""
    if not isinstance(profile, dict) or not profile.get("defaultAction"):
        raise ValueError("a profile is a JSON object with a defaultAction")
    native, goarch = MACHINES.get(machine, (f"SCMP_ARCH_{machine.upper()}", machine))
    arches = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or ():
        if entry.get("architecture") == native:
            arches = [native] + list(entry.get("subArchitectures") or [])
    oci = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        oci["defaultErrnoRet"] = int(profile["defaultErrnoRet"])
    oci["architectures"] = arches
    oci["syscalls"] = []
    for rule in profile.get("syscalls") or ():
        if not _applies(rule, set(caps), goarch):
            continue
        entry = {"names": list(rule.get("names") or [rule["name"]]), "action": rule["action"]}
        if rule.get("errnoRet") is not None:
            entry["errnoRet"] = int(rule["errnoRet"])
        if rule.get("args"):
            entry["args"] = [{"index": int(a["index"]), "value": int(a.get("value", 0)),
                              "valueTwo": int(a.get("valueTwo", 0)), "op": a["op"]}
                             for a in rule["args"]]
        oci["syscalls"].append(entry)
    return oci


def resolve(source: str, caps) -> dict:
    """The OCI seccomp section for a profile source and capability set (cached)."""
    raw = read_profile(source)
    machine = os.uname().machine
    key = sha256(FORMAT + raw + b"\0" + ",".join(sorted(caps)).encode() + b"\0" +
                 f"{machine} {_kernel()}".encode()).hexdigest()

    def make() -> bytes:
        from pycontain import jsonio
        try:
            return marshal.dumps(to_oci(jsonio.loads(raw), caps, machine), 0)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PycontainError(f"invalid seccomp profile {source}: {exc}") from None
    return marshal.loads(_cached(key, ".oci", make))


def program(oci: dict | None) -> bytes | None:
    """The BPF program for an OCI seccomp section (compiled once, then cached)."""
    if not oci:
        return None
    key = sha256(FORMAT + marshal.dumps(oci, 0)).hexdigest()

    def make() -> bytes:
        from pycontain.oci.security.compiler import compile_bpf
        return compile_bpf(oci)
    return _cached(key, ".bpf", make)
