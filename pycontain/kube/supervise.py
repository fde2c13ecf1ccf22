"""The per-pod supervisor: restarts without a daemon.

One detached process per pod (double-forked, its own session, as a container's
monitor is) polls the pod's containers every 0.2 s and runs their probes:
- a container that exited is restarted per the pod's restartPolicy (Always,
  OnFailure: non-zero exit, Never) with Kubernetes' back-off: the first restart
  at once, then 10 s doubling up to 5 min, reset once it ran 10 minutes
  (engine.restart.KUBERNETES, the rule `run --restart` uses with docker's times);
- a liveness probe failing failureThreshold times in a row kills the container
  (which the restart policy then restarts);
- the pod is ready while every container runs and passes its readiness probe
  (successThreshold / failureThreshold); a change of readiness rebuilds the
  Services' load balancer (lb.sync) at once.
It exits on SIGTERM (`kube down`) or when its pod's record is gone. A host
reboot is out of scope: nothing restarts pods after one.
"""
import os
import socket
import time

from pycontain.engine.restart import KUBERNETES
from pycontain.kube import lb, store

TICK = 0.2


def spawn(pod: str) -> list:
    """Start the supervisor of pod; [pid, start time] (to recognise it later)."""
    from pycontain.engine.state import proc_start_time
    r, w = os.pipe()
    first = os.fork()
    if first == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                os.close(r)
                log = os.open(os.path.join(store.pod_dir(pod), "supervisor.log"),
                              os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                devnull = os.open(os.devnull, os.O_RDWR)
                for target, fd in ((0, devnull), (1, log), (2, log)):
                    os.dup2(fd, target)
                os.write(w, str(os.getpid()).encode())
                os.closerange(3, 65536)
                try:
                    Supervisor(pod).loop()
                finally:
                    os._exit(0)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as pipe:
        pid = int(pipe.read() or 0)
    os.waitpid(first, 0)
    return [pid, proc_start_time(pid)]


def _probe_port(port, ports: dict) -> int:
    return port if isinstance(port, int) else ports.get(port, 0)


def run_probe(probe: dict, ip: str, ports: dict, ctr_name: str) -> bool:
    """One try of a probe against the pod (address ip)."""
    timeout = max(probe["timeoutSeconds"], 0.2)
    try:
        if probe["kind"] == "tcpSocket":
            socket.create_connection((ip, _probe_port(probe["port"], ports)), timeout).close()
            return True
        if probe["kind"] == "httpGet":
            import http.client
            conn = http.client.HTTPConnection(ip, _probe_port(probe["port"], ports),
                                              timeout=timeout)
            try:
                conn.request("GET", probe["path"])
                return 200 <= conn.getresponse().status < 400
            finally:
                conn.close()
        return _exec_probe(ctr_name, probe["command"], timeout)
    except Exception:  # noqa: BLE001 - any failure of a probe is a failed probe
        return False


def _exec_probe(ctr_name: str, command: list, timeout: float) -> bool:
    """Run command in the container; past timeout it is killed (a failure)."""
    import _signal as signal
    import threading
    from pycontain.engine import state
    from pycontain.engine.attach import run_foreground
    from pycontain.engine.execute import ExecOptions, exec_launcher
    spawn_fn, prepare = exec_launcher(state.lookup(ctr_name), ExecOptions(command=command))
    pidfds, expired = [], []

    def kill():
        expired.append(True)
        try:
            signal.pidfd_send_signal(pidfds[0], signal.SIGKILL)
        except OSError:
            pass  # exited meanwhile
    timer = threading.Timer(timeout, kill)

    def arm(pid):
        pidfds.append(os.pidfd_open(pid))
        timer.start()
    try:
        code = run_foreground(spawn_fn, False, False, on_started=arm, prepare=prepare)
    finally:
        timer.cancel()
        if timer.is_alive():
            timer.join()
        for fd in pidfds:
            os.close(fd)
    return code == 0 and not expired


class Tracked:
    """What the supervisor knows of one container."""

    def __init__(self, entry: dict):
        self.entry, self.name = entry, entry["name"]
        self.started = time.monotonic()
        self.restarts, self.next_start, self.exit_code = 0, 0.0, None
        self.ready = entry["readiness"] is None
        self.counts = {"liveness": [0, 0], "readiness": [0, 0]}  # successes, failures in a row
        self.due = {k: self.started + (entry[k] or {}).get("initialDelaySeconds", 0)
                    for k in ("liveness", "readiness")}

    def probe(self, kind: str, now: float, ip: str, ports: dict) -> None:
        probe = self.entry[kind]
        if probe is None or now < self.due[kind]:
            return
        self.due[kind] = now + probe["periodSeconds"]
        counts = self.counts[kind]
        if run_probe(probe, ip, ports, self.name):
            counts[0], counts[1] = counts[0] + 1, 0
        else:
            counts[0], counts[1] = 0, counts[1] + 1
        if kind == "readiness":
            if counts[0] >= probe["successThreshold"]:
                self.ready = True
            elif counts[1] >= probe["failureThreshold"]:
                self.ready = False
        elif counts[1] >= probe["failureThreshold"]:
            from pycontain.engine import container, state
            counts[1] = 0
            try:
                container.kill(state.lookup(self.name))
            except Exception:  # noqa: BLE001 - exited meanwhile
                pass


class Supervisor:
    def __init__(self, pod: str):
        import _signal as signal
        self.pod, self.stopping = pod, False
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        record = store.pod(pod)
        self.tracked = [Tracked(c) for c in record["containers"]] if record else []
        self.ready = None

    def _alive(self, t: Tracked):
        from pycontain.engine import state
        try:
            ctr = state.lookup(t.name)
        except Exception:  # noqa: BLE001 - removed (kube down is on its way)
            return False, None
        return ctr.alive(), ctr

    def _restart(self, t: Tracked, ctr, now: float, policy: str) -> None:
        if t.exit_code is None:  # just noticed the exit
            t.exit_code = ctr.state.exit_code if ctr is not None else -1
            t.restarts = KUBERNETES.streak(t.restarts, now - t.started)
            t.next_start = now + KUBERNETES.delay(t.restarts)
        wanted = policy == "Always" or policy == "OnFailure" and t.exit_code != 0
        if not wanted or now < t.next_start or self.stopping:
            return
        from pycontain.engine import container
        from pycontain.kube.pods import run_container
        if ctr is not None:
            container.remove(ctr, force=True)
        if self.stopping or store.pod(self.pod) is None:
            return
        run_container(t.entry["run"])
        fresh = Tracked(t.entry)
        fresh.restarts = t.restarts + 1
        self.tracked[self.tracked.index(t)] = fresh
        print(f"restarted {t.name} (exit {t.exit_code}, restart {fresh.restarts})", flush=True)

    def step(self, record: dict) -> None:
        now = time.monotonic()
        ready = True
        for t in list(self.tracked):
            alive, ctr = self._alive(t)
            if not alive:
                ready = False
                t.ready = False
                self._restart(t, ctr, now, record["restartPolicy"])
                continue
            t.probe("liveness", now, record["ip"], record["ports"])
            t.probe("readiness", now, record["ip"], record["ports"])
            ready = ready and t.ready
        if ready != self.ready:
            store.update_pod(self.pod, ready=ready,
                             restarts={t.name: t.restarts for t in self.tracked})
            lb.sync()
            self.ready = ready  # only once applied: a failed sync is tried again

    def loop(self) -> None:
        while not self.stopping:
            record = store.pod(self.pod)
            if record is None:
                return
            try:
                self.step(record)
            except Exception as exc:  # noqa: BLE001 - keep supervising; say why
                print(f"supervisor: {exc!r}", flush=True)
            time.sleep(TICK)
