"""Kubernetes YAML: parse (PyYAML safe_load, bounded) and validate strictly.

An invalid document raises one PycontainError naming the file, the document
and the field; a field pycontain does not implement adds a warning naming it
(never a silent drop). Nothing here touches the system.
"""
import base64
import re

from pycontain.errors import PycontainError
from pycontain.fsutil import read_capped
from pycontain.kube.fields import (Where, Warnings, flag, port_number, protocol, scalar,
                                   string_map, strings, typed, valid_name, whole)

MAX_FILE_BYTES = 1 << 20
MAX_DOCUMENTS = 100
MAX_REPLICAS = 50
KINDS = ("Pod", "Deployment", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim")
VOLUME_KEYS = {"configMap": {"name", "optional"}, "secret": {"secretName", "optional"},
               "emptyDir": set(), "hostPath": {"path"},
               "persistentVolumeClaim": {"claimName", "readOnly"}}
VOLUME_KINDS = tuple(VOLUME_KEYS)

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


def _probe(where, probe, field):
    if probe is None:
        return None
    probe = typed(where, probe, dict, field)
    where.known(probe, PROBE_KEYS, field)
    kinds = [k for k in ("exec", "httpGet", "tcpSocket") if k in probe]
    if len(kinds) != 1:
        where.fail(field, "needs exactly one of exec, httpGet, tcpSocket")
    handler = typed(where, probe[kinds[0]], dict, f"{field}.{kinds[0]}", required=True)
    where.known(handler, {"exec": {"command"}, "httpGet": {"port", "path"},
                          "tcpSocket": {"port"}}[kinds[0]], f"{field}.{kinds[0]}")
    out = {"kind": kinds[0]}
    if kinds[0] == "exec":
        out["command"] = strings(where, handler.get("command"), f"{field}.exec.command")
        if not out["command"]:
            where.fail(f"{field}.exec.command", "is required")
    else:
        out["port"] = port_number(where, handler.get("port"), f"{field}.{kinds[0]}.port",
                                  names=True)
        out["path"] = scalar(where, handler.get("path"), f"{field}.{kinds[0]}.path") or "/"
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
    ctr = typed(where, ctr, dict, field)
    where.known(ctr, CONTAINER_KEYS, field)
    out = {"name": valid_name(where, ctr.get("name"), f"{field}.name"),
           "image": typed(where, ctr.get("image"), str, f"{field}.image", required=True),
           "command": strings(where, ctr.get("command"), f"{field}.command"),
           "args": strings(where, ctr.get("args"), f"{field}.args"),
           "workingDir": scalar(where, ctr.get("workingDir"), f"{field}.workingDir")}
    if not out["image"]:
        where.fail(f"{field}.image", "is required")
    out["env"] = []
    for i, env in enumerate(typed(where, ctr.get("env"), list, f"{field}.env")):
        env = typed(where, env, dict, f"{field}.env[{i}]")
        where.known(env, {"name", "value", "valueFrom"}, f"{field}.env[{i}]")
        name = typed(where, env.get("name"), str, f"{field}.env[{i}].name", required=True)
        if "valueFrom" in env:
            source = typed(where, env["valueFrom"], dict, f"{field}.env[{i}].valueFrom")
            if len(source) != 1 or next(iter(source)) not in (
                    "configMapKeyRef", "secretKeyRef", "fieldRef"):
                where.fail(f"{field}.env[{i}].valueFrom",
                           "needs one of configMapKeyRef, secretKeyRef, fieldRef")
            kind, ref = next(iter(source.items()))
            ref = typed(where, ref, dict, f"{field}.env[{i}].valueFrom.{kind}")
            where.known(ref, {"fieldPath", "apiVersion"} if kind == "fieldRef" else
                        {"name", "key", "optional"}, f"{field}.env[{i}].valueFrom.{kind}")
            if kind != "fieldRef":
                ref = _reference(where, ref, f"{field}.env[{i}].valueFrom.{kind}", "key")
            if kind == "fieldRef" and ref.get("fieldPath") not in ("metadata.name",
                                                                   "status.podIP"):
                where.fail(f"{field}.env[{i}].valueFrom.fieldRef.fieldPath",
                           "only metadata.name and status.podIP are supported")
            out["env"].append({"name": name, "from": kind, "ref": ref})
        else:
            out["env"].append({"name": name, "value": scalar(where, env.get("value"),
                                                             f"{field}.env[{i}].value")})
    out["envFrom"] = []
    for i, src in enumerate(typed(where, ctr.get("envFrom"), list, f"{field}.envFrom")):
        src = typed(where, src, dict, f"{field}.envFrom[{i}]")
        where.known(src, {"configMapRef", "secretRef", "prefix"}, f"{field}.envFrom[{i}]")
        kind = "configMapRef" if "configMapRef" in src else "secretRef"
        ref = typed(where, src.get(kind), dict, f"{field}.envFrom[{i}].{kind}", required=True)
        where.known(ref, {"name", "optional"}, f"{field}.envFrom[{i}].{kind}")
        ref = _reference(where, ref, f"{field}.envFrom[{i}].{kind}")
        out["envFrom"].append({"from": kind, "name": ref["name"], "optional": ref["optional"],
                               "prefix": scalar(where, src.get("prefix"),
                                                f"{field}.envFrom[{i}].prefix")})
    out["ports"], out["hostPorts"] = {}, []
    for i, port in enumerate(typed(where, ctr.get("ports"), list, f"{field}.ports")):
        at = f"{field}.ports[{i}]"
        port = typed(where, port, dict, at)
        where.known(port, {"name", "containerPort", "hostPort", "protocol"}, at)
        number = port_number(where, port.get("containerPort"), f"{at}.containerPort")
        proto = protocol(where, port.get("protocol", "TCP"), f"{at}.protocol")
        out["ports"][scalar(where, port.get("name"), f"{at}.name") or str(number)] = number
        host = port.get("hostPort")
        out["hostPorts"].append({"containerPort": number, "protocol": proto,
                                 "hostPort": None if host is None else
                                 port_number(where, host, f"{at}.hostPort")})
    out["volumeMounts"] = []
    for i, mount in enumerate(typed(where, ctr.get("volumeMounts"), list,
                                     f"{field}.volumeMounts")):
        mount = typed(where, mount, dict, f"{field}.volumeMounts[{i}]")
        where.known(mount, {"name", "mountPath", "readOnly", "subPath"},
                    f"{field}.volumeMounts[{i}]")
        if mount.get("name") not in volumes:
            where.fail(f"{field}.volumeMounts[{i}].name", f"no volume {mount.get('name')!r}")
        path = typed(where, mount.get("mountPath"), str, f"{field}.volumeMounts[{i}].mountPath",
                      required=True)
        at = f"{field}.volumeMounts[{i}]"
        out["volumeMounts"].append({"name": mount["name"], "mountPath": path,
                                    "readOnly": flag(where, mount.get("readOnly"),
                                                     f"{at}.readOnly"),
                                    "subPath": scalar(where, mount.get("subPath"),
                                                      f"{at}.subPath")})
    resources = typed(where, ctr.get("resources"), dict, f"{field}.resources")
    where.known(resources, {"limits", "requests"}, f"{field}.resources")
    for kind in ("limits", "requests"):
        out[kind] = typed(where, resources.get(kind), dict, f"{field}.resources.{kind}")
        where.known(out[kind], {"memory", "cpu"}, f"{field}.resources.{kind}")
    security = typed(where, ctr.get("securityContext"), dict, f"{field}.securityContext")
    where.known(security, SECURITY_KEYS, f"{field}.securityContext")
    out["securityContext"] = _security(where, security, f"{field}.securityContext")
    out["livenessProbe"] = _probe(where, ctr.get("livenessProbe"), f"{field}.livenessProbe")
    out["readinessProbe"] = _probe(where, ctr.get("readinessProbe"), f"{field}.readinessProbe")
    return out


def _reference(where, ref: dict, field: str, *keys: str) -> dict:
    """A ConfigMap/Secret reference: name (and keys) strings, optional a boolean."""
    out = {"name": typed(where, ref.get("name"), str, f"{field}.name", required=True),
           "optional": flag(where, ref.get("optional"), f"{field}.optional")}
    for key in keys:
        out[key] = typed(where, ref.get(key), str, f"{field}.{key}", required=True)
    return out


def _security(where, security: dict, field: str) -> dict:
    """securityContext with its types checked: booleans, user and group ids, capabilities."""
    caps = typed(where, security.get("capabilities"), dict, f"{field}.capabilities")
    where.known(caps, {"add", "drop"}, f"{field}.capabilities")
    out = {key: flag(where, security.get(key), f"{field}.{key}")
           for key in ("privileged", "readOnlyRootFilesystem")}
    for key in ("runAsUser", "runAsGroup"):
        if key in security:
            out[key] = whole(where, security[key], f"{field}.{key}", 0, 2**31 - 1)
    out["capabilities"] = {key: strings(where, caps.get(key), f"{field}.capabilities.{key}")
                           for key in ("add", "drop")}
    return out


def _volumes(where, items, field) -> dict:
    found = {}
    for i, vol in enumerate(typed(where, items, list, field)):
        vol = typed(where, vol, dict, f"{field}[{i}]")
        name = valid_name(where, vol.get("name"), f"{field}[{i}].name")
        kinds = [k for k in vol if k != "name"]
        if len(kinds) != 1 or kinds[0] not in VOLUME_KINDS:
            where.fail(f"{field}[{i}]", f"needs one of {', '.join(VOLUME_KINDS)}")
        source = typed(where, vol[kinds[0]], dict, f"{field}[{i}].{kinds[0]}")
        where.known(source, VOLUME_KEYS[kinds[0]], f"{field}[{i}].{kinds[0]}")
        at = f"{field}[{i}].{kinds[0]}"
        if kinds[0] == "persistentVolumeClaim":
            valid_name(where, source.get("claimName"), f"{at}.claimName")
        source = dict(source)
        for key in {"optional", "readOnly"} & VOLUME_KEYS[kinds[0]]:
            source[key] = flag(where, source.get(key), f"{at}.{key}")
        for key in {"name", "secretName"} & VOLUME_KEYS[kinds[0]]:
            source[key] = typed(where, source.get(key), str, f"{at}.{key}", required=True)
        if kinds[0] == "hostPath":
            source["path"] = typed(where, source.get("path"), str, f"{at}.path",
                                   required=True)
        found[name] = {"kind": kinds[0], **source}
    return found


def pod_spec(where, spec, field) -> dict:
    spec = typed(where, spec, dict, field, required=True)
    where.known(spec, POD_KEYS, field)
    volumes = _volumes(where, spec.get("volumes"), f"{field}.volumes")
    containers = typed(where, spec.get("containers"), list, f"{field}.containers")
    if not containers:
        where.fail(f"{field}.containers", "needs at least one container")
    policy = spec.get("restartPolicy", "Always")
    if policy not in RESTART_POLICIES:
        where.fail(f"{field}.restartPolicy", f"invalid {policy!r} (want Always, OnFailure or "
                                             "Never)")
    hostname = spec.get("hostname")
    if hostname is not None:
        hostname = valid_name(where, hostname, f"{field}.hostname")
    grace = whole(where, spec.get("terminationGracePeriodSeconds", 30),
                  f"{field}.terminationGracePeriodSeconds", 0, 3600)
    out = {"restartPolicy": policy, "volumes": volumes, "hostname": hostname, "grace": grace,
           "containers": [_container(where, c, f"{field}.containers[{i}]", volumes)
                          for i, c in enumerate(containers)]}
    names = [c["name"] for c in out["containers"]]
    if len(set(names)) != len(names):
        where.fail(f"{field}.containers", "container names must be unique")
    return out


def _service(where, spec) -> dict:
    spec = typed(where, spec, dict, "spec", required=True)
    where.known(spec, SERVICE_KEYS, "spec")
    kind = spec.get("type", "ClusterIP")
    if kind not in SERVICE_TYPES:
        where.fail("spec.type", f"invalid {kind!r} (want ClusterIP, NodePort or LoadBalancer)")
    ports = []
    for i, port in enumerate(typed(where, spec.get("ports"), list, "spec.ports")):
        port = typed(where, port, dict, f"spec.ports[{i}]")
        where.known(port, {"name", "port", "targetPort", "nodePort", "protocol"},
                    f"spec.ports[{i}]")
        number = port_number(where, port.get("port"), f"spec.ports[{i}].port")
        proto = protocol(where, port.get("protocol", "TCP"), f"spec.ports[{i}].protocol")
        node = port.get("nodePort")
        ports.append({"port": number, "protocol": proto,
                      "targetPort": port_number(where, port.get("targetPort", number),
                                          f"spec.ports[{i}].targetPort", names=True),
                      "nodePort": None if node is None else
                      whole(where, node, f"spec.ports[{i}].nodePort", 30000, 32767)})
    if not ports:
        where.fail("spec.ports", "needs at least one port")
    address = spec.get("clusterIP")
    if address is not None:
        import ipaddress
        try:
            address = str(ipaddress.IPv4Address(address))
        except ValueError:
            where.fail("spec.clusterIP", f"invalid {address!r} (want an IPv4 address of the "
                                         "service subnet)")
    return {"type": kind, "ports": ports, "clusterIP": address,
            "selector": string_map(where, spec.get("selector"), "spec.selector")}


def _amount(where, value, field, replicas: int, up: bool) -> int:
    """maxSurge / maxUnavailable: a count or a percentage of replicas
    (rounded up for the surge, down for unavailability, as Kubernetes does)."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}%", value):
        share = int(value[:-1]) * replicas
        return -(-share // 100) if up else share // 100
    return whole(where, value, field, 0, MAX_REPLICAS)


def _strategy(where, spec, replicas: int) -> dict:
    """Deployment.spec.strategy: RollingUpdate (default 25%/25%) or Recreate."""
    strategy = typed(where, spec, dict, "spec.strategy")
    where.known(strategy, {"type", "rollingUpdate"}, "spec.strategy")
    kind = strategy.get("type", "RollingUpdate")
    if kind not in ("RollingUpdate", "Recreate"):
        where.fail("spec.strategy.type", f"invalid {kind!r} (want RollingUpdate or Recreate)")
    field = "spec.strategy.rollingUpdate"
    rolling = typed(where, strategy.get("rollingUpdate"), dict, field)
    if kind == "Recreate":
        if rolling:
            where.fail(field, "is only for type RollingUpdate")
        return {"type": kind}
    where.known(rolling, {"maxSurge", "maxUnavailable"}, field)
    given = [rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")]
    if all(v in (0, "0%") for v in given):
        where.fail(field, "maxSurge and maxUnavailable cannot both be 0")
    surge = _amount(where, given[0], f"{field}.maxSurge", replicas, True)
    unavailable = _amount(where, given[1], f"{field}.maxUnavailable", replicas, False)
    # both rounded to 0 (few replicas): one may be unavailable, as Kubernetes resolves it
    return {"type": kind, "maxSurge": surge, "maxUnavailable": unavailable or int(not surge)}


def _claim(where, spec) -> dict:
    spec = typed(where, spec, dict, "spec")
    where.known(spec, {"accessModes"}, "spec")
    return {"accessModes": strings(where, spec.get("accessModes"), "spec.accessModes")}


def _document(where, doc) -> dict:
    doc = typed(where, doc, dict, "document")
    kind = doc.get("kind")
    if kind not in KINDS:
        where.fail("kind", f"unsupported kind {kind!r} (supported: {', '.join(KINDS)})")
    meta = typed(where, doc.get("metadata"), dict, "metadata", required=True)
    name = valid_name(where, meta.get("name"), "metadata.name")
    where.doc += f" ({kind} {name})"
    where.known(meta, META_KEYS, "metadata")
    where.known(doc, {"apiVersion", "kind", "metadata", "spec", "data", "stringData", "type"},
                "")
    obj = {"kind": kind, "name": name,
           "labels": string_map(where, meta.get("labels"), "metadata.labels")}
    if kind == "Pod":
        obj["spec"] = pod_spec(where, doc.get("spec"), "spec")
    elif kind == "Deployment":
        spec = typed(where, doc.get("spec"), dict, "spec", required=True)
        where.known(spec, {"replicas", "selector", "template", "strategy",
                           "progressDeadlineSeconds"}, "spec")
        deadline = whole(where, spec.get("progressDeadlineSeconds", 600),
                         "spec.progressDeadlineSeconds", 1, 3600)
        replicas = whole(where, spec.get("replicas", 1), "spec.replicas", 0, MAX_REPLICAS)
        selector = typed(where, spec.get("selector"), dict, "spec.selector", required=True)
        where.known(selector, {"matchLabels"}, "spec.selector")
        labels = string_map(where, selector.get("matchLabels"), "spec.selector.matchLabels")
        template = typed(where, spec.get("template"), dict, "spec.template", required=True)
        where.known(template, {"metadata", "spec"}, "spec.template")
        tmeta = typed(where, template.get("metadata"), dict, "spec.template.metadata")
        where.known(tmeta, {"labels", "annotations"}, "spec.template.metadata")
        tlabels = string_map(where, tmeta.get("labels"), "spec.template.metadata.labels")
        if not labels or any(tlabels.get(k) != v for k, v in labels.items()):
            where.fail("spec.selector", "must be non-empty and match spec.template's labels")
        obj.update(replicas=replicas, podLabels=tlabels, deadline=deadline,
                   strategy=_strategy(where, spec.get("strategy"), replicas),
                   spec=pod_spec(where, template.get("spec"), "spec.template.spec"))
    elif kind == "Service":
        obj["spec"] = _service(where, doc.get("spec"))
    elif kind == "PersistentVolumeClaim":
        obj["spec"] = _claim(where, doc.get("spec"))
    else:
        data = dict(string_map(where, doc.get("data"), "data"))
        if kind == "Secret":
            for key, value in data.items():
                try:
                    data[key] = base64.b64decode(value, validate=True).decode()
                except (ValueError, UnicodeDecodeError):
                    where.fail(f"data.{key}", "is not base64 of UTF-8 text")
            data.update(string_map(where, doc.get("stringData"), "stringData"))
        obj["data"] = data
    return obj


def load(paths: list) -> tuple:
    """Every document of the files; returns (objects, warnings)."""
    import yaml
    objects, warnings = [], Warnings()
    for path in paths:
        text = read_capped(path, MAX_FILE_BYTES)
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
    return objects, warnings.done()
