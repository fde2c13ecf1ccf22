"""`pycontain kube`: the issue's classic Deployment + LoadBalancer Service,
failover, ConfigMaps and Secrets, clean `kube down`, bad input. Every test runs
inside the test's own network namespace (the `npc` fixture)."""
import collections
import json
import subprocess
import time
from pathlib import Path

from helpers import one_error_line
from test_net_bridge import in_ns

APP = (Path(__file__).parent / "kube-my-app.yaml").read_text()

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello-config, app.conf: "mode=fast\\n"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: czNjcmV0}
stringData: {user: admin}
---
apiVersion: v1
kind: Pod
metadata: {name: conf}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  volumes: [{name: cfg, configMap: {name: settings}}]
  containers:
  - name: main
    image: busybox
    command: ["sleep", "600"]
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: settings, key: greeting}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    envFrom: [{secretRef: {name: creds}, prefix: S_}]
    volumeMounts:
    - {name: cfg, mountPath: /etc/app, readOnly: true}
    - {name: cfg, mountPath: /greeting, subPath: greeting}
    stdin: true
"""

FETCH = ("for i in $(seq {n}); do timeout 5 busybox wget -qO- {url} || echo FAILED; done")


def _ps(npc) -> dict:
    return json.loads(npc.out("kube", "ps", "--format", "json"))


def _nothing(npc) -> bool:
    return not any(_ps(npc).values())


def _wait_ready(npc, count: int, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = _ps(npc)
        eps = [e for s in found["services"] for e in s["endpoints"]]
        if sum(p["ready"] for p in found["pods"]) == count and len(eps) == count:
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def test_classic_deployment_behind_a_load_balancer(npc, tmp_path):
    app = tmp_path / "app.yaml"
    app.write_text(APP)
    out = npc.out("kube", "play", app)
    assert out.count("pod/my-app-") == 3 and "service/my-app" in out
    try:
        pods = [p["name"] for p in _wait_ready(npc, 3)["pods"]]
        assert all(len(p) == len("my-app-") + 5 for p in pods)
        answers = in_ns(npc, "sh", "-c", FETCH.format(n=300, url="http://127.0.0.1:80/"),
                        timeout=120).stdout.split()
        counts = collections.Counter(answers)
        assert set(counts) == set(pods), counts
        assert all(60 <= c <= 141 for c in counts.values()), counts  # 20%-47% of 300
        # another pod (a container on the kube network) finds it by name, and a
        # replica reaches its own Service (hairpin)
        got = npc.out("run", "--rm", "--network", "kube", "busybox", "sh", "-c",
                      "for i in 1 2 3 4 5 6; do wget -qO- http://my-app/; done").split()
        assert set(got) <= set(pods) and len(got) == 6
        got = npc.out("exec", f"{pods[0]}-web", "sh", "-c", "for i in 1 2 3 4 5 6; do "
                      "wget -qO- http://my-app.default.svc.cluster.local/; done").split()
        assert set(got) <= set(pods) and len(got) == 6
        # failover: one replica's server dies; within 2 s every request succeeds,
        # and the replica restarts and serves again within 5 s
        npc.out("kill", f"{pods[0]}-web")
        time.sleep(2)
        answers = in_ns(npc, "sh", "-c", FETCH.format(n=100, url="http://127.0.0.1/"),
                        timeout=120).stdout.split()
        assert "FAILED" not in answers and len(answers) == 100
        found = _wait_ready(npc, 3, timeout=5)
        assert next(p for p in found["pods"] if p["name"] == pods[0])["restarts"] == 1
        answers = in_ns(npc, "sh", "-c", FETCH.format(n=60, url="http://127.0.0.1/"),
                        timeout=60).stdout.split()
        assert pods[0] in answers
    finally:
        removed = npc.out("kube", "down", app).split()
    assert sorted(removed) == sorted(pods + ["my-app"])
    assert _nothing(npc)
    assert in_ns(npc, "nft", "list", "tables").stdout == ""
    assert npc.containers() == []


def test_configmap_and_secret_reach_env_and_files(npc, tmp_path):
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONFIG)
    result = npc("kube", "play", conf)
    assert result.returncode == 0, result.stderr
    assert "spec.containers[0].stdin is not supported: ignored" in result.stderr
    try:
        env = npc.out("exec", "conf-main", "env").splitlines()
        for line in ("GREETING=hello-config", "PASSWORD=s3cret", "POD=conf", "S_user=admin",
                     "S_password=s3cret"):
            assert line in env
        assert npc.out("exec", "conf-main", "cat", "/etc/app/app.conf") == "mode=fast\n"
        assert npc.out("exec", "conf-main", "cat", "/greeting") == "hello-config"
        assert npc.out("exec", "conf-main", "hostname") == "conf\n"
    finally:
        npc.out("kube", "down", conf)
    assert npc.containers() == []


BAD = {
    "bad yaml": ("kind: Pod\nmetadata: {name: x\n", "invalid YAML"),
    "unknown kind": ("kind: Job\nmetadata: {name: x}\n", "kind: unsupported kind 'Job'"),
    "missing image": ("kind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - name: a\n",
                      "(Pod x): spec.containers[0].image: is required"),
    "unknown image": ("kind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n"
                      "  - {name: a, image: nosuchimage}\n", "container a: image not known"),
}


def test_bad_input_is_one_clear_error_and_starts_nothing(npc, tmp_path):
    path = tmp_path / "bad.yaml"
    for text, message in BAD.values():
        path.write_text("apiVersion: v1\n" + text)
        result = npc("kube", "play", path)
        assert result.returncode == 125
        assert result.stderr.startswith("pycontain: ") and message in result.stderr, \
            result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert _nothing(npc)
        assert npc.containers() == []
    # the classic app with a Secret that does not exist: nothing started either
    path.write_text(APP.replace("ports: [{containerPort", "envFrom: [{secretRef: {name: nope}}]"
                                "\n        ports: [{containerPort"))
    result = npc("kube", "play", path)
    assert result.returncode == 125 and "Secret 'nope' not found" in result.stderr
    assert _nothing(npc)
    # a failure once pods run (the second replica wants the first one's host
    # port): what had started is removed, the Deployment's record too
    path.write_text(APP.replace("name: http}", "name: http, hostPort: 8080}"))
    result = npc("kube", "play", path)
    assert result.returncode == 125 and "8080" in one_error_line(result), result.stderr
    assert _nothing(npc) and npc.containers() == []


PROBED = """\
kind: Pod
metadata: {name: probed, labels: {app: probed}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox
    command: ["sh", "-c", "touch /tmp/ready; mkdir -p /www; echo up > /www/index.html; exec httpd -f -p 8080 -h /www"]
    readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 0.3, failureThreshold: 1}
    livenessProbe: {httpGet: {port: 8080, path: /index.html}, periodSeconds: 0.3, failureThreshold: 2}
---
kind: Service
metadata: {name: probed}
spec:
  selector: {app: probed}
  ports: [{port: 81, targetPort: 8080}]
"""


def _probed(npc) -> tuple:
    found = _ps(npc)
    return found["pods"][0], found["services"][0]["endpoints"]


def _until(check, timeout=5):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_readiness_gates_the_service_and_liveness_restarts(npc, tmp_path):
    path = tmp_path / "probed.yaml"
    path.write_text(PROBED)
    npc.out("kube", "play", path)
    try:
        _until(lambda: _probed(npc)[1])
        npc.out("exec", "probed-web", "rm", "/tmp/ready")  # not ready: out, not restarted
        _until(lambda: not _probed(npc)[1])
        assert _probed(npc)[0]["restarts"] == 0
        npc.out("exec", "probed-web", "touch", "/tmp/ready")
        _until(lambda: _probed(npc)[1])
        npc.out("exec", "probed-web", "rm", "/www/index.html")  # liveness fails: restarted
        _until(lambda: _probed(npc)[0]["restarts"] == 1 and _probed(npc)[1], timeout=8)
    finally:
        npc.out("kube", "down", path)


ROLLING = APP.replace('command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html',
                      'env: [{name: VERSION, value: "1"}]\n'
                      '        command: ["sh", "-c", "mkdir -p /www && '
                      'echo $VERSION-$(hostname) > /www/index.html')
LOOP = ("n=0; while [ ! -f {stop} ] || [ $n -lt 100 ]; do n=$((n+1)); "
        "timeout 5 busybox wget -qO- http://127.0.0.1/ || echo FAILED; done")


def test_replace_rolls_replicas_without_a_failed_request(npc, tmp_path):
    """--replace with a changed image and env: new pods one at a time (maxSurge
    1, maxUnavailable 0), each ready before an old one drains; a client
    looping on the Service meanwhile sees no failed request."""
    app = tmp_path / "app.yaml"
    app.write_text(ROLLING)
    npc.out("kube", "play", app)
    npc.out("tag", "busybox", "localhost/busybox:v2")
    try:
        old = {p["name"] for p in _wait_ready(npc, 3)["pods"]}
        stop = tmp_path / "stop"
        client = subprocess.Popen([*npc.prefix, "sh", "-c", LOOP.format(stop=stop)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            app.write_text(ROLLING.replace('value: "1"', 'value: "2"')
                           .replace("image: busybox", "image: localhost/busybox:v2"))
            out = npc.out("kube", "play", "--replace", app, timeout=120)
        finally:
            stop.touch()
            answers = client.communicate(timeout=120)[0].split()
        assert out.count("pod/my-app-") == 3
        assert "FAILED" not in answers and len(answers) >= 100
        found = _wait_ready(npc, 3)
        new = {p["name"] for p in found["pods"]}
        assert not new & old and found["deployments"] == [
            {"name": "my-app", "desired": 3, "ready": 3}]
        assert "deployment/my-app  3/3 ready" in npc.out("kube", "status")
        versions = [a.split("-", 1) for a in answers]
        assert {v for v, _ in versions} <= {"1", "2"}
        assert {p for v, p in versions if v == "2"} <= new  # every new answer from a new pod
        assert versions[-1][0] == "2"
        # a replacement that never gets ready stalls, and what served keeps serving
        app.write_text(ROLLING.replace("spec:\n  replicas: 3", "spec:\n  replicas: 3\n"
                                       "  progressDeadlineSeconds: 2")
                       .replace("-p 8080", "-p 8081"))
        stalled = npc("kube", "play", "--replace", app, timeout=120)
        assert stalled.returncode == 125 and "rollout stalled" in stalled.stderr, stalled.stderr
        assert {p["name"] for p in _wait_ready(npc, 3)["pods"]} == new
        assert _get(npc, "http://127.0.0.1/").startswith("2-")
    finally:
        npc.out("kube", "down", app)
        npc("rmi", "localhost/busybox:v2")
    assert _nothing(npc) and npc.containers() == []


CLAIMED = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce]}
---
apiVersion: v1
kind: Pod
metadata: {name: saver}
spec:
  terminationGracePeriodSeconds: 0  # httpd as PID 1 ignores SIGTERM
  volumes: [{name: store, persistentVolumeClaim: {claimName: data}}]
  containers:
  - name: web
    image: busybox
    command: ["sh", "-c", "echo $POD >> /data/log; exec httpd -f -p 8080 -h /data"]
    env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    ports: [{containerPort: 8080}]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 0.3}
    volumeMounts: [{name: store, mountPath: /data}]
"""
BORROWER = """\
apiVersion: v1
kind: Pod
metadata: {name: borrower}
spec:
  terminationGracePeriodSeconds: 0
  volumes: [{name: store, persistentVolumeClaim: {claimName: data}}]
  containers:
  - {name: c, image: busybox, command: [sleep, "600"], volumeMounts: [{name: store, mountPath: /d}]}
"""
TAKEN = """\
apiVersion: v1
kind: Service
metadata: {name: other}
spec:
  type: LoadBalancer
  selector: {app: other}
  ports: [{port: 8080}]
"""


def _get(npc, url) -> str:
    return in_ns(npc, "busybox", "wget", "-qO-", url).stdout


def test_claims_survive_down_and_publish_all_reaches_the_pod(npc, tmp_path):
    """A PersistentVolumeClaim's data outlives `kube down` (not `--volumes`);
    --publish-all publishes a containerPort on the same host port, and a
    Service wanting that port is refused with nothing started."""
    path, taken = tmp_path / "claimed.yaml", tmp_path / "taken.yaml"
    path.write_text(CLAIMED)
    taken.write_text(TAKEN)
    try:
        for run in (1, 2):
            npc.out("kube", "play", "--publish-all", path)
            _until(lambda: _ps(npc)["pods"][0]["ready"])
            assert _get(npc, "http://127.0.0.1:8080/log") == "saver\n" * run
            if run == 1:
                result = npc("kube", "play", taken)
                assert result.returncode == 125 and \
                    "cannot expose port 8080/tcp" in result.stderr, result.stderr
                assert [s["name"] for s in _ps(npc)["services"]] == []
                npc.out("kube", "down", path)
                assert [c["name"] for c in _ps(npc)["claims"]] == ["data"]
                assert "data" in npc.out("volume", "ls", "-q").split()  # a named volume
                assert _get(npc, "http://127.0.0.1:8080/log") == ""
        borrower = tmp_path / "borrower.yaml"  # another file's pod on the same claim
        borrower.write_text(BORROWER)
        npc.out("kube", "play", borrower)
        try:
            refused = npc("kube", "down", "--volumes", path)
            assert refused.returncode == 125 and "data is in use" in refused.stderr, \
                refused.stderr
            assert [p["name"] for p in _ps(npc)["pods"]] == ["borrower", "saver"]
        finally:
            npc.out("kube", "down", borrower)
    finally:
        assert npc.out("kube", "down", "--volumes", path).split() == ["saver", "data"]
    assert _nothing(npc) and npc.containers() == []
    assert "data" not in npc.out("volume", "ls", "-q").split()
