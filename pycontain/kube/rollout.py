"""A Deployment's pods brought to its template: the first play starts them;
`kube play --replace` replaces the running ones by its strategy.

RollingUpdate, as Kubernetes' deployment controller does it: at most
replicas + maxSurge pods exist, and at least replicas - maxUnavailable of them
are ready, at every step. A new pod counts once its readiness says so (the
supervisor's readiness gates the Services too); an old pod leaves by
pods.drain (out of the Services first, its open connections finished), so a
client of the Service sees no failed request. Old pods that are not ready
go first. Recreate removes every old pod, then starts the new ones.
"""
import os
import time

from pycontain.errors import PycontainError
from pycontain.kube import lb, pods, store

POD_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' (no vowels, no 0/1/3)
POLL = 0.1


def pod_name(deployment: str) -> str:
    """`<deployment>-<5 chars>`."""
    return f"{deployment}-" + "".join(POD_NAME_CHARS[b % len(POD_NAME_CHARS)]
                                      for b in os.urandom(5))


def _ready(name: str) -> bool:
    record = store.pod(name)
    return bool(record and record["ready"])


def roll(obj: dict, start, started: list) -> None:
    """Bring Deployment obj to obj["replicas"] new pods. start(name) starts
    one; each started pod's name is appended to `started` at once (for the
    caller to remove them should the rollout fail: all but the ready ones)."""
    old = [p["name"] for p in store.pods() if p["owner"] == obj["name"]]
    replacing = bool(old)
    desired, strategy = obj["replicas"], obj["strategy"]
    store.save_record("deployments", {"name": obj["name"], "replicas": desired})
    if strategy["type"] == "Recreate" and old:
        for name in old:
            pods.remove(name)
        lb.sync()
        old = []
    new = []
    try:
        _replace(obj, old, new, start, started)
    except BaseException:
        # a failed replacement keeps what serves: the old pods not drained yet
        # and the new ones that are ready (they stood in for the drained ones);
        # the caller removes the rest of `started` (all of it on a first play)
        for name in new if replacing else ():
            if _ready(name):
                started.remove(name)
        raise


def _replace(obj: dict, old: list, new: list, start, started: list) -> None:
    desired, strategy = obj["replicas"], obj["strategy"]
    surge = strategy.get("maxSurge", 0)
    floor = desired - strategy.get("maxUnavailable", 0)  # ready pods to keep
    deadline = time.monotonic() + obj["deadline"]
    while old or len(new) < desired:
        moved = False
        while len(new) < desired and len(old) + len(new) < desired + surge:
            name = pod_name(obj["name"])
            new.append(name)
            started.append(name)
            start(name)
            moved = True
        ready_new = sum(map(_ready, new))
        ready_old = [n for n in old if _ready(n)]
        for name in sorted(old, key=lambda n: n in ready_old):  # the unready first
            if name in ready_old:
                if len(ready_old) - 1 + ready_new < floor:
                    break
                ready_old.remove(name)
            pods.drain(name)
            old.remove(name)
            moved = True
        if not moved:
            if time.monotonic() > deadline:
                raise PycontainError(
                    f"Deployment {obj['name']}: rollout stalled: {ready_new} of {len(new)} new "
                    f"pods ready after {obj['deadline']} s (progressDeadlineSeconds)")
            time.sleep(POLL)
