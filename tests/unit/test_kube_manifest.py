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
