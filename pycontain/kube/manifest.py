"""Kubernetes YAML: parse (PyYAML safe_load, bounded) and validate strictly.

An invalid document raises one PycontainError naming the file, the document
and the field; a field pycontain does not implement adds a warning naming it
(never a silent drop). Nothing here touches the system.
"""
import base64
import re

from pycontain.errors import PycontainError

MAX_FILE_BYTES = 1 << 20
MAX_DOCUMENTS = 100
MAX_REPLICAS = 50
MAX_ITEMS = 200  # containers, env entries, ports, volumes... per list
NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
KEY_RE = re.compile(r"[-._a-zA-Z0-9]+$")
KINDS = ("Pod", "Deployment", "Service", "ConfigMap", "Secret")

META_KEYS = {"name", "namespace", "labels", "annotations"}
POD_KEYS = {"containers", "restartPolicy", "volumes", "hostname",
            "terminationGracePeriodSeconds"}
CONTAINER_KEYS = {"name", "image", "command", "args", "env", "envFrom", "ports", "workingDir",
                  "volumeMounts", "resources", "securityContext", "livenessProbe",
                  "readinessProbe"}
PROBE_KEYS = {"exec", "httpGet", "tcpSocket", "initialDelaySeconds", "periodSeconds",
              "timeoutSeconds", "failureThreshold", "successThreshold"}
SECURITY_KEYS = {"runAsUser", "runAsGroup", "readOnlyRootFilesystem", "capabilities",
                 "privileged"}
SERVICE_KEYS = {"type", "selector", "ports", "clusterIP"}
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
RESTART_POLICIES = ("Always", "OnFailure", "Never")


class Where:
    """Names the place of a problem: `FILE document N (Kind name): field`."""

    def __init__(self, source: str, index: int, warnings: list):
        self.doc, self.warnings = f"{source} document {index}", warnings

    def fail(self, field: str, problem: str):
        raise PycontainError(f"{self.doc}: {field}: {problem}")

    def known(self, obj: dict, keys: set, field: str) -> None:
        for key in obj:
            if key not in keys:
                self.warnings.append(f"{self.doc}: {field}.{key} is not supported: ignored")


def _typed(where, obj, kind, field, required=False):
    if obj is None:
        if required:
            where.fail(field, "is required")
        return kind()
    if not isinstance(obj, kind) or isinstance(obj, bool) and kind is int:
        where.fail(field, f"must be {'a mapping' if kind is dict else 'a ' + kind.__name__}")
    if isinstance(obj, (list, dict)) and len(obj) > MAX_ITEMS:
        where.fail(field, f"has more than {MAX_ITEMS} entries")
    return obj


def _name(where, value, field) -> str:
    value = _typed(where, value, str, field, required=True)
    if len(value) > 50 or not NAME_RE.match(value):
        where.fail(field, f"invalid name {value!r} (lower case letters, digits and '-', "
                          "at most 50 characters)")
    return value


def _strings(where, value, field) -> list:
    items = _typed(where, value, list, field)
    for i, item in enumerate(items):
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            where.fail(f"{field}[{i}]", "must be a string")
    return [str(i) for i in items]


def _string_map(where, value, field) -> dict:
    items = _typed(where, value, dict, field)
    for key, item in items.items():
        if not isinstance(key, str) or not KEY_RE.match(key):
            where.fail(field, f"invalid key {key!r}")
        if not isinstance(item, str):
            where.fail(f"{field}.{key}", "must be a string")
    return items


def _port(where, value, field, names=False):
    if names and isinstance(value, str):
        return value
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        where.fail(field, f"invalid port {value!r}")
    return value


def _probe(where, probe, field):
    if probe is None:
        return None
    probe = _typed(where, probe, dict, field)
    where.known(probe, PROBE_KEYS, field)
    kinds = [k for k in ("exec", "httpGet", "tcpSocket") if k in probe]
    if len(kinds) != 1:
        where.fail(field, "needs exactly one of exec, httpGet, tcpSocket")
    handler = _typed(where, probe[kinds[0]], dict, f"{field}.{kinds[0]}", required=True)
    out = {"kind": kinds[0]}
    if kinds[0] == "exec":
        out["command"] = _strings(where, handler.get("command"), f"{field}.exec.command")
        if not out["command"]:
            where.fail(f"{field}.exec.command", "is required")
    else:
        out["port"] = _port(where, handler.get("port"), f"{field}.{kinds[0]}.port", names=True)
        out["path"] = str(handler.get("path") or "/")
    for key, default in (("initialDelaySeconds", 0), ("periodSeconds", 10),
                         ("timeoutSeconds", 1), ("failureThreshold", 3),
                         ("successThreshold", 1)):
        value = probe.get(key, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not \
                0 <= value <= 3600:
            where.fail(f"{field}.{key}", f"invalid value {value!r}")
        out[key] = value
    out["periodSeconds"] = max(out["periodSeconds"], 0.2)
    return out


def _container(where, ctr, field, volumes) -> dict:
    ctr = _typed(where, ctr, dict, field)
    where.known(ctr, CONTAINER_KEYS, field)
    out = {"name": _name(where, ctr.get("name"), f"{field}.name"),
           "image": _typed(where, ctr.get("image"), str, f"{field}.image", required=True),
           "command": _strings(where, ctr.get("command"), f"{field}.command"),
           "args": _strings(where, ctr.get("args"), f"{field}.args"),
           "workingDir": ctr.get("workingDir")}
    if not out["image"]:
        where.fail(f"{field}.image", "is required")
    out["env"] = []
    for i, env in enumerate(_typed(where, ctr.get("env"), list, f"{field}.env")):
        env = _typed(where, env, dict, f"{field}.env[{i}]")
        name = _typed(where, env.get("name"), str, f"{field}.env[{i}].name", required=True)
        if "valueFrom" in env:
            source = _typed(where, env["valueFrom"], dict, f"{field}.env[{i}].valueFrom")
            if len(source) != 1 or next(iter(source)) not in (
                    "configMapKeyRef", "secretKeyRef", "fieldRef"):
                where.fail(f"{field}.env[{i}].valueFrom",
                           "needs one of configMapKeyRef, secretKeyRef, fieldRef")
            kind, ref = next(iter(source.items()))
            ref = _typed(where, ref, dict, f"{field}.env[{i}].valueFrom.{kind}")
            if kind == "fieldRef" and ref.get("fieldPath") not in ("metadata.name",
                                                                   "status.podIP"):
                where.fail(f"{field}.env[{i}].valueFrom.fieldRef.fieldPath",
                           "only metadata.name and status.podIP are supported")
            out["env"].append({"name": name, "from": kind, "ref": ref})
        else:
            out["env"].append({"name": name, "value": str(env.get("value", ""))})
    out["envFrom"] = []
    for i, src in enumerate(_typed(where, ctr.get("envFrom"), list, f"{field}.envFrom")):
        src = _typed(where, src, dict, f"{field}.envFrom[{i}]")
        kind = "configMapRef" if "configMapRef" in src else "secretRef"
        ref = _typed(where, src.get(kind), dict, f"{field}.envFrom[{i}].{kind}", required=True)
        out["envFrom"].append({"from": kind, "name": ref.get("name"),
                               "prefix": str(src.get("prefix", ""))})
    out["ports"] = {}
    for i, port in enumerate(_typed(where, ctr.get("ports"), list, f"{field}.ports")):
        port = _typed(where, port, dict, f"{field}.ports[{i}]")
        number = _port(where, port.get("containerPort"), f"{field}.ports[{i}].containerPort")
        out["ports"][str(port.get("name") or number)] = number
    out["volumeMounts"] = []
    for i, mount in enumerate(_typed(where, ctr.get("volumeMounts"), list,
                                     f"{field}.volumeMounts")):
        mount = _typed(where, mount, dict, f"{field}.volumeMounts[{i}]")
        if mount.get("name") not in volumes:
            where.fail(f"{field}.volumeMounts[{i}].name", f"no volume {mount.get('name')!r}")
        path = _typed(where, mount.get("mountPath"), str, f"{field}.volumeMounts[{i}].mountPath",
                      required=True)
        out["volumeMounts"].append({"name": mount["name"], "mountPath": path,
                                    "readOnly": bool(mount.get("readOnly")),
                                    "subPath": str(mount.get("subPath") or "")})
    resources = _typed(where, ctr.get("resources"), dict, f"{field}.resources")
    where.known(resources, {"limits", "requests"}, f"{field}.resources")
    out["limits"] = _typed(where, resources.get("limits"), dict, f"{field}.resources.limits")
    where.known(out["limits"], {"memory", "cpu"}, f"{field}.resources.limits")
    security = _typed(where, ctr.get("securityContext"), dict, f"{field}.securityContext")
    where.known(security, SECURITY_KEYS, f"{field}.securityContext")
    out["securityContext"] = security
    out["livenessProbe"] = _probe(where, ctr.get("livenessProbe"), f"{field}.livenessProbe")
    out["readinessProbe"] = _probe(where, ctr.get("readinessProbe"), f"{field}.readinessProbe")
    return out


def _volumes(where, items, field) -> dict:
    found = {}
    for i, vol in enumerate(_typed(where, items, list, field)):
        vol = _typed(where, vol, dict, f"{field}[{i}]")
        name = _name(where, vol.get("name"), f"{field}[{i}].name")
        kinds = [k for k in vol if k != "name"]
        if len(kinds) != 1 or kinds[0] not in ("configMap", "secret", "emptyDir", "hostPath"):
            where.fail(f"{field}[{i}]", "needs one of configMap, secret, emptyDir, hostPath")
        source = _typed(where, vol[kinds[0]], dict, f"{field}[{i}].{kinds[0]}")
        found[name] = {"kind": kinds[0], **source}
    return found


def pod_spec(where, spec, field) -> dict:
    spec = _typed(where, spec, dict, field, required=True)
    where.known(spec, POD_KEYS, field)
    volumes = _volumes(where, spec.get("volumes"), f"{field}.volumes")
    containers = _typed(where, spec.get("containers"), list, f"{field}.containers")
    if not containers:
        where.fail(f"{field}.containers", "needs at least one container")
    policy = spec.get("restartPolicy", "Always")
    if policy not in RESTART_POLICIES:
        where.fail(f"{field}.restartPolicy", f"invalid {policy!r} (want Always, OnFailure or "
                                             "Never)")
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)
                              or not 0 <= grace <= 86400):
        where.fail(f"{field}.terminationGracePeriodSeconds", f"invalid value {grace!r}")
    out = {"restartPolicy": policy, "volumes": volumes, "grace": grace,
           "containers": [_container(where, c, f"{field}.containers[{i}]", volumes)
                          for i, c in enumerate(containers)]}
    names = [c["name"] for c in out["containers"]]
    if len(set(names)) != len(names):
        where.fail(f"{field}.containers", "container names must be unique")
    return out


def _service(where, spec) -> dict:
    spec = _typed(where, spec, dict, "spec", required=True)
    where.known(spec, SERVICE_KEYS, "spec")
    kind = spec.get("type", "ClusterIP")
    if kind not in SERVICE_TYPES:
        where.fail("spec.type", f"invalid {kind!r} (want ClusterIP, NodePort or LoadBalancer)")
    ports = []
    for i, port in enumerate(_typed(where, spec.get("ports"), list, "spec.ports")):
        port = _typed(where, port, dict, f"spec.ports[{i}]")
        where.known(port, {"name", "port", "targetPort", "nodePort", "protocol"},
                    f"spec.ports[{i}]")
        number = _port(where, port.get("port"), f"spec.ports[{i}].port")
        proto = port.get("protocol", "TCP")
        if proto not in ("TCP", "UDP"):
            where.fail(f"spec.ports[{i}].protocol", f"invalid {proto!r} (want TCP or UDP)")
        node = port.get("nodePort")
        ports.append({"port": number, "protocol": proto.lower(),
                      "targetPort": _port(where, port.get("targetPort", number),
                                          f"spec.ports[{i}].targetPort", names=True),
                      "nodePort": None if node is None else
                      _port(where, node, f"spec.ports[{i}].nodePort")})
    if not ports:
        where.fail("spec.ports", "needs at least one port")
    return {"type": kind, "ports": ports,
            "selector": _string_map(where, spec.get("selector"), "spec.selector")}


def _document(where, doc) -> dict:
    doc = _typed(where, doc, dict, "document")
    kind = doc.get("kind")
    if kind not in KINDS:
        where.fail("kind", f"unsupported kind {kind!r} (supported: {', '.join(KINDS)})")
    meta = _typed(where, doc.get("metadata"), dict, "metadata", required=True)
    name = _name(where, meta.get("name"), "metadata.name")
    where.doc += f" ({kind} {name})"
    where.known(meta, META_KEYS, "metadata")
    where.known(doc, {"apiVersion", "kind", "metadata", "spec", "data", "stringData", "type"},
                "")
    obj = {"kind": kind, "name": name,
           "labels": _string_map(where, meta.get("labels"), "metadata.labels")}
    if kind == "Pod":
        obj["spec"] = pod_spec(where, doc.get("spec"), "spec")
    elif kind == "Deployment":
        spec = _typed(where, doc.get("spec"), dict, "spec", required=True)
        where.known(spec, {"replicas", "selector", "template", "strategy"}, "spec")
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or \
                not 0 <= replicas <= MAX_REPLICAS:
            where.fail("spec.replicas", f"invalid {replicas!r} (want 0-{MAX_REPLICAS})")
        selector = _typed(where, spec.get("selector"), dict, "spec.selector", required=True)
        labels = _string_map(where, selector.get("matchLabels"), "spec.selector.matchLabels")
        template = _typed(where, spec.get("template"), dict, "spec.template", required=True)
        tmeta = _typed(where, template.get("metadata"), dict, "spec.template.metadata")
        tlabels = _string_map(where, tmeta.get("labels"), "spec.template.metadata.labels")
        if not labels or any(tlabels.get(k) != v for k, v in labels.items()):
            where.fail("spec.selector", "must be non-empty and match spec.template's labels")
        obj.update(replicas=replicas, podLabels=tlabels,
                   spec=pod_spec(where, template.get("spec"), "spec.template.spec"))
    elif kind == "Service":
        obj["spec"] = _service(where, doc.get("spec"))
    else:
        data = dict(_string_map(where, doc.get("data"), "data"))
        if kind == "Secret":
            for key, value in data.items():
                try:
                    data[key] = base64.b64decode(value, validate=True).decode()
                except (ValueError, UnicodeDecodeError):
                    where.fail(f"data.{key}", "is not base64 of UTF-8 text")
            data.update(_string_map(where, doc.get("stringData"), "stringData"))
        obj["data"] = data
    return obj


def load(paths: list) -> tuple:
    """Every document of the files; returns (objects, warnings)."""
    import yaml
    objects, warnings = [], []
    for path in paths:
        try:
            with open(path, "rb") as f:
                text = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise PycontainError(f"cannot read {path}: {exc.strerror}") from None
        if len(text) > MAX_FILE_BYTES:
            raise PycontainError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        try:
            docs = []
            for doc in yaml.safe_load_all(text):
                if len(docs) == MAX_DOCUMENTS:
                    raise PycontainError(f"{path}: more than {MAX_DOCUMENTS} documents")
                docs.append(doc)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise PycontainError(f"{path}: invalid YAML{where}: {problem}") from None
        except RecursionError:
            raise PycontainError(f"{path}: invalid YAML: nested too deeply") from None
        for index, doc in enumerate(docs, 1):
            if doc is not None:
                objects.append(_document(Where(path, index, warnings), doc))
    seen = set()
    for obj in objects:
        key = (obj["kind"], obj["name"])
        if key in seen:
            raise PycontainError(f"{obj['kind']} {obj['name']} is defined twice")
        seen.add(key)
    return objects, warnings
