"""kube's YAML parsing: hostile input is bounded, unsupported fields warn."""
import time

import pytest

from pycontain.errors import PycontainError
from pycontain.kube import manifest
from pycontain.kube.lb import render


def _load(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return manifest.load([str(path)])


def test_deep_nesting_and_many_documents_are_refused_quickly(tmp_path):
    start = time.monotonic()
    with pytest.raises(PycontainError, match="nested too deeply"):
        _load(tmp_path, "[" * 100000 + "]" * 100000)
    with pytest.raises(PycontainError, match="more than 100 documents"):
        _load(tmp_path, "---\nkind: ConfigMap\nmetadata: {name: a}\n" * 101)
    assert time.monotonic() - start < 5


def test_unsupported_field_warns_and_secret_decodes(tmp_path):
    objects, warnings = _load(tmp_path, "kind: Secret\nmetadata: {name: s, uid: x}\n"
                                        "data: {a: aGk=}\nstringData: {b: there}\n")
    assert objects[0]["data"] == {"a": "hi", "b": "there"}
    assert warnings == ["m.yaml document 1 (Secret s): metadata.uid is not supported: ignored"
                        .replace("m.yaml", str(tmp_path / "m.yaml"))]


def test_service_without_ready_endpoint_is_refused():
    svc = {"name": "web", "type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"a": "b"},
           "ports": [{"port": 80, "targetPort": 8080, "protocol": "tcp", "nodePort": 30080}]}
    pod = {"ip": "10.89.0.2", "labels": {"a": "b"}, "ports": {}, "ready": False}
    body, used = render([svc], [pod])
    assert "fib daddr type local tcp dport 30080 reject with tcp reset" in body
    assert used == {"web": []}
    body, used = render([svc], [dict(pod, ready=True)])
    assert "numgen random mod 1" in body and "dnat to 10.89.0.2:8080" in body


def test_back_off_doubles_and_starts_over():
    from pycontain.engine.restart import DOCKER, KUBERNETES, parse
    assert [KUBERNETES.delay(n) for n in range(7)] == [0, 10, 20, 40, 80, 160, 300]
    assert [DOCKER.delay(n) for n in (0, 1, 2, 10)] == [0.1, 0.2, 0.4, 60]
    assert KUBERNETES.streak(4, 599) == 4 and KUBERNETES.streak(4, 600) == 0
    assert parse("on-failure:5") == ("on-failure", 5) and parse("always") == ("always", 0)
    for bad in ("on-failure:x", "always:1", "never", "on-failure:9999999"):
        with pytest.raises(PycontainError, match="invalid restart policy"):
            parse(bad)


def test_rolling_update_amounts_resolve_as_kubernetes_does(tmp_path):
    def strategy(rolling, replicas=3):
        text = APP_DOC.format(replicas=replicas, rolling=rolling)
        return _load(tmp_path, text)[0][0]["strategy"]
    assert strategy("{}") == {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}
    assert strategy("{maxSurge: 0, maxUnavailable: 50%}", 5) == {
        "type": "RollingUpdate", "maxSurge": 0, "maxUnavailable": 2}
    assert strategy("{}", 1) == {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}
    assert strategy("{maxSurge: 0%, maxUnavailable: 10%}", 2)["maxUnavailable"] == 1
    with pytest.raises(PycontainError, match="maxSurge and maxUnavailable cannot both be 0"):
        strategy("{maxSurge: 0, maxUnavailable: 0%}")
    with pytest.raises(PycontainError, match="rollingUpdate.maxSurge: invalid '1.5'"):
        strategy("{maxSurge: '1.5'}")


def test_unknown_port_and_claim_fields_warn(tmp_path):
    objects, warnings = _load(tmp_path, APP_DOC.format(replicas=1, rolling="{}").replace(
        "containerPort: 80", "containerPort: 80, hostIP: 1.2.3.4") +
        "---\nkind: PersistentVolumeClaim\nmetadata: {name: c}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n")
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "spec.template.spec.containers[0].ports[0].hostIP is not supported: ignored",
        "spec.resources is not supported: ignored"]
    assert objects[0]["spec"]["containers"][0]["hostPorts"] == [
        {"containerPort": 80, "protocol": "tcp", "hostPort": None}]


APP_DOC = """\
kind: Deployment
metadata: {{name: d}}
spec:
  replicas: {replicas}
  strategy: {{type: RollingUpdate, rollingUpdate: {rolling}}}
  selector: {{matchLabels: {{app: d}}}}
  template:
    metadata: {{labels: {{app: d}}}}
    spec:
      containers: [{{name: c, image: busybox, ports: [{{containerPort: 80}}]}}]
"""


def test_a_sub_path_cannot_lead_out_of_its_volume(tmp_path):
    from pycontain.kube.podspec import _mounts
    (tmp_path / "in").mkdir()
    (tmp_path / "esc").symlink_to("/etc")  # what a container may leave in an emptyDir
    ctr = {"volumeMounts": [{"name": "v", "mountPath": "/x", "readOnly": False,
                             "subPath": "in"}]}
    assert _mounts(ctr, {"v": (str(tmp_path), True, False)}) == [f"{tmp_path}/in:/x:ro"]
    for sub in ("esc", "../x", "in/../../x"):
        ctr["volumeMounts"][0]["subPath"] = sub
        with pytest.raises(PycontainError, match="subPath"):
            _mounts(ctr, {"v": (str(tmp_path), False, False)})


def test_no_sub_path_on_a_volume_containers_write(tmp_path):
    """A container writing an emptyDir or a claim could swap a directory of the
    subPath for a symlink between the check and the mount (a review made a
    pod see the host's files so): refused, whatever the path."""
    from pycontain.kube.podspec import _mounts
    (tmp_path / "in").mkdir()
    ctr = {"volumeMounts": [{"name": "v", "mountPath": "/x", "readOnly": False,
                             "subPath": "in"}]}
    with pytest.raises(PycontainError, match="subPath on volume v is not supported"):
        _mounts(ctr, {"v": (str(tmp_path), False, True)})
    ctr["volumeMounts"][0].update(subPath="", mountPath="/x:dev")  # no -v options smuggled
    with pytest.raises(PycontainError, match="invalid mountPath"):
        _mounts(ctr, {"v": (str(tmp_path), False, False)})


def test_a_failed_replacement_keeps_the_ready_new_pods(monkeypatch):
    """Rolling 3 replicas (maxSurge 1, maxUnavailable 0): two new pods get
    ready and two old ones drain, then starting the third fails. The caller
    removes what is left in `started`: only that third pod, so 3 pods (2 new,
    1 old) still serve, not 1. Store and pods are stand-ins here: the logic
    under test is only which names the rollout hands back."""
    from pycontain.kube import rollout
    ready, drained = set(), []
    pods = [{"name": f"old-{i}", "owner": "d", "ready": True} for i in range(3)]
    monkeypatch.setattr(rollout.store, "pods", lambda: pods)
    monkeypatch.setattr(rollout.store, "save_record", lambda kind, record: None)
    monkeypatch.setattr(rollout.store, "pod", lambda name: {
        "ready": name in ready or name.startswith("old-") and name not in drained})
    monkeypatch.setattr(rollout.pods, "drain", drained.append)
    calls = []

    def start(name):
        calls.append(name)
        if len(calls) == 3:
            raise PycontainError("cannot start the third")
        ready.add(name)
    obj = {"name": "d", "replicas": 3, "deadline": 5,
           "strategy": {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}}
    started = []
    with pytest.raises(PycontainError, match="third"):
        rollout.roll(obj, start, started)
    assert started == [calls[2]] and len(drained) == 2
