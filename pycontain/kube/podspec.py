"""A pod's container as the engine's RunOptions: Kubernetes' command/args,
env (values, ConfigMap and Secret keys, fields), volumes, limits, security."""
import os
import re

from pycontain.errors import PycontainError

INFRA_IMAGE = "busybox"
INFRA_COMMAND = ["sleep", "2147483647"]
QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$")
UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "m": 10**-3,
         "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}


def quantity(text, what: str) -> float:
    found = QUANTITY.match(str(text))
    if not found:
        raise PycontainError(f"invalid {what} quantity {text!r} (e.g. 128Mi, 500m, 1)")
    return float(found.group(1)) * UNITS[found.group(2)]


class Sources:
    """The ConfigMaps and Secrets of the play, by name."""

    def __init__(self, objects: list):
        self.maps = {("ConfigMap" if o["kind"] == "ConfigMap" else "Secret", o["name"]): o["data"]
                     for o in objects if o["kind"] in ("ConfigMap", "Secret")}

    def data(self, kind: str, name, optional=False) -> dict:
        found = self.maps.get((kind, name))
        if found is None and not optional:
            raise PycontainError(f"{kind} {name!r} not found (it must be in the files played)")
        return found or {}

    def key(self, kind: str, ref: dict) -> str | None:
        data = self.data(kind, ref.get("name"), ref.get("optional"))
        if ref.get("key") not in data and not ref.get("optional"):
            raise PycontainError(f"{kind} {ref.get('name')!r} has no key {ref.get('key')!r}")
        return data.get(ref.get("key"))


def environment(ctr: dict, pod: dict, sources: Sources) -> list:
    env = {}
    for item in ctr["envFrom"]:
        kind = "ConfigMap" if item["from"] == "configMapRef" else "Secret"
        for key, value in sources.data(kind, item["name"], item["optional"]).items():
            env[item["prefix"] + key] = value
    for item in ctr["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif item["from"] == "fieldRef":
            field = item["ref"]["fieldPath"]
            env[item["name"]] = pod["name"] if field == "metadata.name" else pod["ip"]
        else:
            kind = "ConfigMap" if item["from"] == "configMapKeyRef" else "Secret"
            value = sources.key(kind, item["ref"])
            if value is not None:
                env[item["name"]] = value
    return [f"{k}={v}" for k, v in env.items()]


def _write_files(directory: str, data: dict, mode: int) -> None:
    from pycontain.fsutil import write_new
    os.makedirs(directory, 0o755, exist_ok=True)
    for key, value in data.items():
        if "/" in key or key in (".", ".."):
            raise PycontainError(f"invalid key {key!r} for a volume file")
        write_new(os.path.join(directory, key), value.encode(), mode)


def claim(name: str) -> str:
    """The named volume of PersistentVolumeClaim name (it must have been played)."""
    from pycontain.engine import volumes
    if name not in volumes.names():
        raise PycontainError(f"PersistentVolumeClaim {name!r} not found (it must be in the "
                             "files played, or played before)")
    return name


def prepare_volumes(pod: dict, spec: dict, sources: Sources, volumes_dir: str) -> dict:
    """Create the pod's volumes on the host; {name: (host path or, for a claim,
    its named volume, read-only, writable by containers: emptyDir and claims)}."""
    found = {}
    for name, vol in spec["volumes"].items():
        if vol["kind"] == "hostPath":
            path = str(vol.get("path") or "")
            if not os.path.isabs(path) or not os.path.exists(path):
                raise PycontainError(f"volume {name}: hostPath {path!r} does not exist")
            found[name] = (path, False, False)
            continue
        if vol["kind"] == "persistentVolumeClaim":
            found[name] = (claim(vol["claimName"]), bool(vol.get("readOnly")), True)
            continue
        path = os.path.join(volumes_dir, name)
        if vol["kind"] == "emptyDir":
            os.makedirs(path, 0o777, exist_ok=True)
            os.chmod(path, 0o777)
        elif vol["kind"] == "configMap":
            _write_files(path, sources.data("ConfigMap", vol.get("name"), vol.get("optional")),
                         0o644)
        else:
            _write_files(path, sources.data("Secret", vol.get("secretName"),
                                            vol.get("optional")), 0o444)
        found[name] = (path, False, vol["kind"] == "emptyDir")
    return found


def _mounts(ctr: dict, volumes: dict) -> list:
    """-v specs of a container's volumeMounts."""
    specs = []
    for mount in ctr["volumeMounts"]:
        source, read_only, shared = volumes[mount["name"]]
        sub = os.path.normpath(mount["subPath"]) if mount["subPath"] else ""
        if sub.startswith(("/", "..")):
            raise PycontainError(f"invalid subPath {mount['subPath']!r}: it must stay inside "
                                 "the volume")
        if ":" in mount["mountPath"] or "," in mount["mountPath"]:
            raise PycontainError(f"invalid mountPath {mount['mountPath']!r}: ':' and ',' are "
                                 "not allowed")
        if sub and shared:
            # a container can swap a directory of the subPath for a symbolic link
            # between this check and the mount (which resolves the path again):
            # the bind could then reach any directory of the host
            raise PycontainError(f"subPath on volume {mount['name']} is not supported: "
                                 "containers can write emptyDir and claim volumes")
        if sub:
            # what a subPath of a hostPath resolves to must stay inside it
            base, source = os.path.realpath(source), os.path.realpath(os.path.join(source, sub))
            if os.path.commonpath([base, source]) != base:
                raise PycontainError(f"subPath {mount['subPath']!r} leads out of volume "
                                     f"{mount['name']}")
        read_only = read_only or mount["readOnly"]
        specs.append(f"{source}:{mount['mountPath']}" + (":ro" if read_only else ""))
    return specs


def _security(ctx: dict) -> dict:
    opts = {}
    if "runAsUser" in ctx or "runAsGroup" in ctx:
        opts["user"] = f"{int(ctx.get('runAsUser', 0))}" + (
            f":{int(ctx['runAsGroup'])}" if "runAsGroup" in ctx else "")
    caps = ctx.get("capabilities") or {}
    opts.update(read_only=bool(ctx.get("readOnlyRootFilesystem")),
                privileged=bool(ctx.get("privileged")),
                cap_add=[str(c) for c in caps.get("add") or []],
                cap_drop=[str(c) for c in caps.get("drop") or []])
    return opts


def run_options(ctr: dict, pod: dict, sources: Sources, volumes: dict, infra) -> dict:
    """The RunOptions fields (a dict, kept in the pod's record for restarts)."""
    opts = {"image": ctr["image"], "name": f"{pod['name']}-{ctr['name']}",
            "hostname": pod["hostname"], "detach": True, "network": "none",
            "env": environment(ctr, pod, sources),
            "volumes": _mounts(ctr, volumes) + [f"{infra.path(f)}:/etc/{f}"
                                                for f in ("hosts", "resolv.conf")],
            "join": {t: f"/proc/{infra.state.pid}/ns/{n}"
                     for t, n in (("network", "net"), ("ipc", "ipc"), ("uts", "uts"))}}
    if ctr["command"]:
        opts.update(entrypoint=ctr["command"][0], command=ctr["command"][1:] + ctr["args"])
    else:
        opts["command"] = ctr["args"]
    if pod.get("grace") is not None:
        opts["stop_timeout"] = str(pod["grace"])
    if ctr["workingDir"]:
        opts["workdir"] = str(ctr["workingDir"])
    if "memory" in ctr["limits"]:
        opts["memory"] = str(int(quantity(ctr["limits"]["memory"], "memory")))
    if "cpu" in ctr["limits"]:
        opts["cpus"] = str(round(quantity(ctr["limits"]["cpu"], "cpu"), 3))
    # requests, as the kubelet maps them: a soft memory limit, CPU shares
    if "memory" in ctr["requests"]:
        opts["memory_reservation"] = str(int(quantity(ctr["requests"]["memory"], "memory")))
    if "cpu" in ctr["requests"]:
        opts["cpu_shares"] = str(max(2, int(quantity(ctr["requests"]["cpu"], "cpu") * 1024)))
    opts.update(_security(ctr["securityContext"]))
    return opts
