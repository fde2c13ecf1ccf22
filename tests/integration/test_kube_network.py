"""`kube down` leaves no network a play made, and one store's Services never
touch another store's rules. Service-only plays: no container to wait for."""
import json
import subprocess
import time

from conftest import PYCONTAIN
from test_net_bridge import in_ns

SERVICE = """\
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80}}]
"""


def _write(tmp_path, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(SERVICE.format(name=name))
    return path


def _networks(npc) -> set:
    return set(npc.out("network", "ls", "--format", "{{.Name}}").split())


def test_down_drops_each_network_once_unused(npc, tmp_path):
    a, b = _write(tmp_path, "a"), _write(tmp_path, "b")
    npc.out("kube", "play", "--network", "neta", a)
    npc.out("kube", "play", "--network", "netb", b)
    assert {"neta", "netb"} <= _networks(npc)
    npc.out("kube", "down", a)
    assert "neta" not in _networks(npc) and "netb" in _networks(npc)
    npc.out("kube", "down", b)
    assert not {"neta", "netb"} & _networks(npc)


def test_a_store_keeps_its_table_when_another_store_goes_down(npc, tmp_path):
    a, b = _write(tmp_path, "a"), _write(tmp_path, "b")
    other = dict(npc.env, PYCONTAIN_ROOT=str(tmp_path / "other"),
                 PYCONTAIN_RUNROOT=str(tmp_path / "other-run"))

    def tables():
        return {t for t in in_ns(npc, "nft", "list", "tables").stdout.splitlines()
                if "pycontain-k" in t}

    def pc_other(*args):
        return subprocess.run([*npc.prefix, PYCONTAIN, *map(str, args)], env=other,
                              capture_output=True, text=True, check=True)
    npc.out("kube", "play", a)
    try:
        mine = tables()
        assert len(mine) == 1
        pc_other("kube", "play", b)
        assert len(tables()) == 2
        pc_other("kube", "down", b)
        assert tables() == mine
    finally:
        npc.out("kube", "down", a)
    assert tables() == set()


HUNG = """\
kind: Pod
metadata: {name: hung}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: busybox
    command: ["sleep", "600"]
    livenessProbe: {exec: {command: [sleep, "600"]}, periodSeconds: 0.2, failureThreshold: 1,
                    timeoutSeconds: 1}
"""


def test_a_hung_exec_probe_times_out_and_restarts(npc, tmp_path):
    path = tmp_path / "hung.yaml"
    path.write_text(HUNG)
    npc.out("kube", "play", path)
    try:
        deadline = time.monotonic() + 10
        while json.loads(npc.out("kube", "ps", "--format", "json"))["pods"][0]["restarts"] < 1:
            assert time.monotonic() < deadline, "the hung probe stalled the supervisor"
            time.sleep(0.2)
    finally:
        npc.out("kube", "down", path)
