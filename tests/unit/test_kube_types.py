"""kube's YAML types are strict: a string is not a boolean or a number, a list
is not a string (nor expanded through aliases), and bad input is one error."""
import re
import time

import pytest

from pycontain.errors import PycontainError
from pycontain.kube import manifest

POD = """\
kind: Pod
metadata: {{name: p}}
spec:
  volumes: [{{name: v, {volume}}}]
  containers:
  - name: c
    image: busybox
    volumeMounts: [{{name: v, mountPath: /v{mount}}}]
    {extra}
"""


def _load(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return manifest.load([str(path)])


def _pod(tmp_path, extra="", volume="emptyDir: {}", mount=""):
    return _load(tmp_path, POD.format(extra=extra, volume=volume, mount=mount))


@pytest.mark.parametrize("extra, volume, mount, message", [
    ('securityContext: {privileged: "false"}', "emptyDir: {}", "",
     "securityContext.privileged: must be true or false, not 'false'"),
    ('securityContext: {readOnlyRootFilesystem: "no"}', "emptyDir: {}", "",
     "securityContext.readOnlyRootFilesystem: must be true or false"),
    ('securityContext: {runAsUser: "abc"}', "emptyDir: {}", "",
     "securityContext.runAsUser: invalid 'abc'"),
    ('securityContext: {capabilities: {add: [[x]]}}', "emptyDir: {}", "",
     "securityContext.capabilities.add[0]: must be a string"),
    ("envFrom: [{configMapRef: {name: [x]}}]", "emptyDir: {}", "",
     "envFrom[0].configMapRef.name: must be a str"),
    ('envFrom: [{configMapRef: {name: x, optional: "false"}}]', "emptyDir: {}", "",
     "envFrom[0].configMapRef.optional: must be true or false"),
    ('env: [{name: A, valueFrom: {secretKeyRef: {name: s, key: k, optional: "no"}}}]',
     "emptyDir: {}", "", "secretKeyRef.optional: must be true or false"),
    ("", 'configMap: {name: m, optional: "false"}', "",
     "configMap.optional: must be true or false"),
    ("", "hostPath: {path: [/etc]}", "", "hostPath.path: must be a str"),
    ("", "emptyDir: {}", ', readOnly: "false"', "volumeMounts[0].readOnly: must be true"),
])
def test_strings_are_not_booleans_nor_numbers(tmp_path, extra, volume, mount, message):
    with pytest.raises(PycontainError, match=re.escape(message)):
        _pod(tmp_path, extra, volume, mount)


def test_real_booleans_and_numbers_pass(tmp_path):
    objects, _ = _pod(tmp_path, "securityContext: {privileged: false, runAsUser: 1000, "
                                "readOnlyRootFilesystem: true, capabilities: {add: [NET_ADMIN]}}",
                      "configMap: {name: m, optional: true}", ", readOnly: true")
    ctr = objects[0]["spec"]["containers"][0]
    assert ctr["securityContext"]["privileged"] is False
    assert ctr["securityContext"]["readOnlyRootFilesystem"] is True
    assert ctr["securityContext"]["runAsUser"] == 1000
    assert ctr["volumeMounts"][0]["readOnly"] is True
    assert objects[0]["spec"]["volumes"]["v"]["optional"] is True


LAUGHS = """\
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


@pytest.mark.parametrize("extra, message", [
    ("env: [{name: A, value: *i}]", "env[0].value: must be a string"),
    ("workingDir: *i", "workingDir: must be a string"),
    ("ports: [{containerPort: 80, name: *i}]", "ports[0].name: must be a string"),
    ("envFrom: [{configMapRef: {name: m, optional: true}, prefix: *i}]",
     "envFrom[0].prefix: must be a string"),
    ("livenessProbe: {httpGet: {port: 80, path: *i}}", "httpGet.path: must be a string"),
    ("securityContext: {capabilities: {add: *i}}", "capabilities.add[0]: must be a string"),
])
def test_aliased_lists_are_not_expanded_into_strings(tmp_path, extra, message):
    text = "laughs:\n" + "".join("  " + line + "\n" for line in LAUGHS.splitlines())
    start = time.monotonic()
    with pytest.raises(PycontainError, match=re.escape(message)):
        _load(tmp_path, POD.format(extra=extra, volume="emptyDir: {}", mount="")
              .replace("kind: Pod\n", "kind: Pod\n" + text))
    assert time.monotonic() - start < 2


def test_unknown_fields_through_aliases_warn_once_and_are_capped(tmp_path):
    env = "&e {name: A, value: b, " + ", ".join(f"x{n}: 1" for n in range(150)) + "}"
    text = POD.format(extra=f"env: [{env}" + ", *e" * 199 + "]", volume="emptyDir: {}",
                      mount="")
    start = time.monotonic()
    _, warnings = _load(tmp_path, text)
    assert time.monotonic() - start < 2
    assert len(warnings) == 101 and warnings[-1] == "and 50 more fields not supported: ignored"


def test_long_keys_and_node_ports_out_of_range_are_refused(tmp_path):
    with pytest.raises(PycontainError, match="invalid key 'kkkk"):
        _load(tmp_path, f"kind: ConfigMap\nmetadata: {{name: m}}\ndata: {{{'k' * 254}: v}}\n")
    assert _load(tmp_path, f"kind: ConfigMap\nmetadata: {{name: m}}\ndata: {{{'k' * 253}: v}}\n")
    with pytest.raises(PycontainError, match=re.escape("nodePort: invalid 80 (want 30000-32767)")):
        _load(tmp_path, "kind: Service\nmetadata: {name: s}\n"
                        "spec: {type: NodePort, ports: [{port: 80, nodePort: 80}]}\n")


def test_taken_and_exhausted_host_ports_are_one_error(monkeypatch):
    from pycontain.kube import play
    monkeypatch.setattr(play, "_free_port", lambda port, proto: None)

    def service(name, kind="LoadBalancer", node=None):
        return {"name": name, "spec": {"type": kind, "clusterIP": None, "selector": {},
                                       "ports": [{"port": 80, "protocol": "tcp",
                                                  "targetPort": 80, "nodePort": node}]}}
    first = play._service_record(service("a"), [], "kube")
    with pytest.raises(PycontainError, match="port 80/tcp is taken by another Service"):
        play._service_record(service("b"), [first], "kube")
    full = [{"name": "x", "clusterIP": "10.96.0.10", "type": "NodePort",
             "ports": [{"port": 80, "protocol": "tcp", "nodePort": n}
                       for n in play.NODE_PORTS]}]
    with pytest.raises(PycontainError, match="no free node port left"):
        play._service_record(service("c", "NodePort"), full, "kube")
