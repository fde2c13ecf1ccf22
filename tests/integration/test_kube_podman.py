"""Parity with podman 4.3's `kube play` on the same Pod + ConfigMap YAML: the
same container names, environment and mounted files. podman runs with
private storage and no network (runc.callers.Podman); its pod's cgroups go
under /libpod_parent, which `kube play` has no flag to change, so the test
removes the (empty) directories podman leaves there. Left out, as podman
4.3 departs from Kubernetes there: envFrom's prefix (it drops it) and a
configMap volume's subPath (it mounts the whole directory); pycontain does
what Kubernetes does (test_kube.py)."""
import os

from runc.callers import Podman, remove_cgroup_dirs
from test_kube import CONFIG

PARITY = CONFIG.split("---\n")[0] + """---
apiVersion: v1
kind: Pod
metadata: {name: conf}
spec:
  restartPolicy: Never
  volumes:
  - {name: cfg, configMap: {name: settings}}
  - {name: scratch, emptyDir: {}}
  containers:
  - name: main
    image: localhost/busybox
    command: ["sleep", "600"]
    workingDir: /etc/app
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: settings, key: greeting}}}
    - {name: PLAIN, value: "a b"}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    envFrom: [{configMapRef: {name: settings}}]
    volumeMounts:
    - {name: cfg, mountPath: /etc/app, readOnly: true}
    - {name: scratch, mountPath: /scratch}
  - name: side
    image: localhost/busybox
    args: ["sleep", "600"]
    env: [{name: ROLE, value: side}]
    volumeMounts: [{name: cfg, mountPath: /cfg}]
"""
# what each engine adds by itself: not from the YAML
ENGINE_VARS = ("HOME", "HOSTNAME", "TERM", "container")
SHOW = ("env; echo ---; pwd; hostname; cat /etc/app/app.conf /etc/app/greeting /cfg/app.conf "
        "2>&1; touch /etc/app/x 2>&1 | sed 's/.*: //'; "
        "touch /scratch/y 2>/dev/null && echo scratch-rw; true")


def _view(exec_in, names) -> dict:
    """Per container: the YAML's environment, then what it sees of its mounts."""
    found = {}
    for name in names:
        text = exec_in(name, "sh", "-c", SHOW)
        env, _, rest = text.partition("---\n")
        found[name] = (sorted(ln for ln in env.splitlines()
                              if ln.split("=", 1)[0] not in ENGINE_VARS), rest)
    return found


def test_same_names_env_and_files_as_podman_kube_play(npc, tmp_path):
    path = tmp_path / "conf.yaml"
    path.write_text(PARITY)
    podman = Podman(f"pycontain-kube-podman-{os.getpid()}")
    conf = podman.dir / "containers.conf"  # this host lacks CAP_SYS_RESOURCE
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\n')
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    try:
        npc.out("save", "-o", podman.dir / "busybox.tar", "busybox")
        podman("load", "-i", podman.dir / "busybox.tar", env=env)
        podman("kube", "play", "--network", "none", path, env=env)
        names = sorted(n for n in podman("ps", "--format", "{{.Names}}", env=env).stdout.split()
                       if not n.endswith("-infra"))
        assert names == ["conf-main", "conf-side"]
        theirs = _view(lambda *a: podman("exec", *a, env=env).stdout, names)
        npc.out("kube", "play", path)
        ours = _view(lambda *a: npc.out("exec", *a), names)
        assert ours == theirs
        assert ours["conf-main"][1].startswith("/etc/app\nconf\nmode=fast\nhello-config")
        assert "PLAIN=a b" in ours["conf-main"][0] and "POD=conf" in ours["conf-main"][0]
    finally:
        npc("kube", "down", path)
        podman("kube", "down", path, env=env, check=False)
        podman.cleanup()
        try:
            remove_cgroup_dirs("libpod_parent")
        except OSError:
            pass  # another podman pod uses it meanwhile: not ours to remove
