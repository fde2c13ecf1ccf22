"""The types of config.json's fields (OCI runtime-spec 1.0.2), checked once
at load: runc's Go decoder refuses a field of the wrong type, and the code
that reads the spec (lifecycle, oci/*) may then trust each field it finds.

A schema is a Python type (str, bool), an integer kind ("i64", "u32"...),
a dict (an object: its known fields; others are ignored, as Go does), a
one-element list (an array of that), or MapOf(x) (an object of x values).
A null field is taken as absent (Go's zero value) and removed.
"""
from pycontain.runc.state import RuncError

INTEGERS = {"i32": (-(1 << 31), (1 << 31) - 1), "i64": (-(1 << 63), (1 << 63) - 1),
            "u16": (0, (1 << 16) - 1), "u32": (0, (1 << 32) - 1), "u64": (0, (1 << 64) - 1)}
_NAMES = {str: "a string", bool: "a boolean", dict: "an object", list: "an array"}


class MapOf:
    """An object whose every value has one schema."""

    def __init__(self, value):
        self.value = value


def _list(*names, kind=None) -> dict:
    return {name: [kind or str] for name in names}


def _device_rates() -> dict:
    rate = [{"major": "i64", "minor": "i64", "rate": "u64"}]
    return {name: rate for name in ("throttleReadBpsDevice", "throttleWriteBpsDevice",
                                    "throttleReadIOPSDevice", "throttleWriteIOPSDevice")}


PROCESS = {
    "terminal": bool, "consoleSize": {"height": "u64", "width": "u64"},
    "user": {"uid": "u32", "gid": "u32", "umask": "u32", "additionalGids": ["u32"],
             "username": str},
    **_list("args", "env"), "commandLine": str, "cwd": str,
    "capabilities": _list("bounding", "effective", "inheritable", "permitted", "ambient"),
    "rlimits": [{"type": str, "hard": "u64", "soft": "u64"}],
    "noNewPrivileges": bool, "apparmorProfile": str, "oomScoreAdj": "i64",
    "selinuxLabel": str,
}
RESOURCES = {
    "devices": [{"allow": bool, "type": str, "major": "i64", "minor": "i64", "access": str}],
    "memory": {"limit": "i64", "reservation": "i64", "swap": "i64", "kernel": "i64",
               "kernelTCP": "i64", "swappiness": "u64", "disableOOMKiller": bool,
               "useHierarchy": bool},
    "cpu": {"shares": "u64", "quota": "i64", "period": "u64", "realtimeRuntime": "i64",
            "realtimePeriod": "u64", "cpus": str, "mems": str, "idle": "i64"},
    "pids": {"limit": "i64"},
    "blockIO": {"weight": "u16", "leafWeight": "u16",
                "weightDevice": [{"major": "i64", "minor": "i64", "weight": "u16",
                                  "leafWeight": "u16"}], **_device_rates()},
    "hugepageLimits": [{"pageSize": str, "limit": "u64"}],
    "network": {"classID": "u32", "priorities": [{"name": str, "priority": "u32"}]},
    "rdma": MapOf({"hcaHandles": "u32", "hcaObjects": "u32"}),
    "unified": MapOf(str),
}
SECCOMP = {
    "defaultAction": str, "defaultErrnoRet": "u64", **_list("architectures", "flags"),
    "listenerPath": str, "listenerMetadata": str,
    "syscalls": [{"names": [str], "action": str, "errnoRet": "u64",
                  "args": [{"index": "u64", "value": "u64", "valueTwo": "u64", "op": str}]}],
}
_ID_MAP = [{"containerID": "u32", "hostID": "u32", "size": "u32"}]
_HOOKS = [{"path": str, **_list("args", "env"), "timeout": "i64"}]
SPEC = {
    "ociVersion": str, "process": PROCESS, "root": {"path": str, "readonly": bool},
    "hostname": str, "domainname": str,
    "mounts": [{"destination": str, "type": str, "source": str, "options": [str]}],
    "hooks": {stage: _HOOKS for stage in ("prestart", "createRuntime", "createContainer",
                                          "startContainer", "poststart", "poststop")},
    "annotations": MapOf(str),
    "linux": {
        "uidMappings": _ID_MAP, "gidMappings": _ID_MAP, "sysctl": MapOf(str),
        "resources": RESOURCES, "cgroupsPath": str,
        "namespaces": [{"type": str, "path": str}],
        "devices": [{"path": str, "type": str, "major": "i64", "minor": "i64",
                     "fileMode": "u32", "uid": "u32", "gid": "u32"}],
        "seccomp": SECCOMP, "rootfsPropagation": str,
        **_list("maskedPaths", "readonlyPaths"), "mountLabel": str,
    },
}


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return _NAMES[type(value)]


def _fail(what: str, path: str, wanted: str, value) -> None:
    where = f"{what}: {path}" if path else what
    raise RuncError(f"{where} must be {wanted}, not {_kind(value)}")


def check(value, schema, what: str, path: str = ""):
    """value if it has schema's types (nulls in objects removed), else
    RuncError: '<what>: <path> must be <type>, not <type>'."""
    if isinstance(schema, str):
        if type(value) is not int:
            _fail(what, path, "an integer", value)
        low, high = INTEGERS[schema]
        if not low <= value <= high:
            where = f"{what}: {path}" if path else what
            raise RuncError(f"{where} must be an integer from {low} to {high}")
    elif isinstance(schema, list):
        if type(value) is not list:
            _fail(what, path, "an array", value)
        for i, item in enumerate(value):
            check(item, schema[0], what, f"{path}[{i}]")
    elif isinstance(schema, (dict, MapOf)):
        if type(value) is not dict:
            _fail(what, path, "an object", value)
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for key, item in value.items():
            inner = schema.value if isinstance(schema, MapOf) else schema.get(key)
            if inner is not None:
                check(item, inner, what, f"{path}.{key}" if path else key)
    elif type(value) is not schema:
        _fail(what, path, _NAMES[schema], value)
    return value
