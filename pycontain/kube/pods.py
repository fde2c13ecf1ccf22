"""Start and remove one pod: an infra container holding the network, IPC and
UTS namespaces (busybox `sleep`, on the kube bridge network, host name = the
pod's name), the pod's containers joining them, and its supervisor."""
import os
import sys
import _signal as signal

from pycontain.errors import PycontainError
from pycontain.kube import podspec, store

INFRA_SUFFIX = "infra"


def _run(fields: dict):
    """Create and start a detached container; its record."""
    from pycontain.engine import container, state
    from pycontain.engine.spec import RunOptions
    opts = RunOptions(**fields)
    ctr, spec = container.create(opts)
    container.run_detached(ctr, spec, opts)
    return state.lookup(ctr.id)


def run_container(fields: dict):
    return _run(fields)


def _address(network: str, cid: str) -> str:
    from pycontain.net import ipam
    return next(a for a, v in ipam.leases(network).items() if v["cid"] == cid)


def published(spec: dict, publish_all: bool) -> list:
    """The infra container's -p flags: every hostPort; with --publish-all also
    every other containerPort, on the same port of the host (as podman does)."""
    found = []
    for ctr in spec["containers"]:
        for port in ctr["hostPorts"]:
            host = port["hostPort"] or (port["containerPort"] if publish_all else None)
            if host:
                found.append(f"{host}:{port['containerPort']}/{port['protocol']}")
    return found


def start(name: str, obj: dict, spec: dict, sources, network: str, owner: str = "",
          publish_all: bool = False) -> dict:
    """Start pod `name` (obj: its labels; spec: the validated pod spec).
    Either the whole pod runs with its supervisor, or nothing is left."""
    from pycontain.kube import supervise
    record = {"name": name, "owner": owner, "labels": obj, "network": network,
              "hostname": spec["hostname"] or name, "grace": spec["grace"],
              "restartPolicy": spec["restartPolicy"], "ip": "", "ready": False,
              "infra": f"{name}-{INFRA_SUFFIX}", "containers": [], "supervisor": 0,
              "ports": {k: v for c in spec["containers"] for k, v in c["ports"].items()}}
    with store.locked():
        if os.path.exists(store.pod_dir(name)):
            raise PycontainError(f"pod {name} already exists: use kube play --replace")
        store.save_pod(record)
    try:
        infra = _run({"image": podspec.INFRA_IMAGE, "command": podspec.INFRA_COMMAND,
                      "name": record["infra"], "hostname": record["hostname"],
                      "network": network, "publish": published(spec, publish_all),
                      "detach": True})
        record["ip"] = _address(network, infra.id)
        volumes = podspec.prepare_volumes(record, spec, sources,
                                          os.path.join(store.pod_dir(name), "volumes"))
        for ctr in spec["containers"]:
            fields = podspec.run_options(ctr, record, sources, volumes, infra)
            record["containers"].append({"name": fields["name"], "run": fields,
                                         "liveness": ctr["livenessProbe"],
                                         "readiness": ctr["readinessProbe"]})
            store.save_pod(record)
            _run(fields)
        store.save_pod(record)
        record["supervisor"] = supervise.spawn(name)
        store.update_pod(name, supervisor=record["supervisor"])
    except BaseException:
        remove(name)
        raise
    return record


def _remove_container(ref: str) -> None:
    from pycontain.engine import container, state
    try:
        ctr = state.lookup(ref)
    except PycontainError:
        return
    container.remove(ctr, force=True)


def _stop_all(names: list) -> None:
    from pycontain.engine import state
    from pycontain.engine.stopping import stop_all
    found = []
    for ref in names:
        try:
            found.append(state.lookup(ref))
        except PycontainError:
            continue
    for exc in stop_all(found):  # not fatal: the rm -f that follows kills what is left
        print(f"pycontain: kube down: {exc}", file=sys.stderr)


def _stop_supervisor(record: dict) -> None:
    from pycontain.engine.state import proc_start_time
    from pycontain.oci.waiting import wait_gone
    pid, started = record.get("supervisor") or (0, None)
    if pid and proc_start_time(pid) == started:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        if not wait_gone(pid, 5):
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid, 5)


def remove(name: str, graceful: bool = False) -> None:
    """Stop the pod's supervisor, remove its containers (infra last), its files."""
    remove_all([name], graceful)


def remove_all(names: list, graceful: bool = False) -> None:
    """Stop the pods' supervisors, remove their containers (infra last), their
    files. graceful (`kube down`): every container of every pod is first
    stopped at once, each with its stop signal and timeout (its pod's
    terminationGracePeriodSeconds), so n pods take one grace period, not n."""
    records = [r for r in map(store.pod, names) if r is not None]
    for record in records:
        _stop_supervisor(record)
    if graceful:
        _stop_all([ctr["name"] for record in records for ctr in record["containers"]])
    for record in records:
        _remove_files(record)


def _remove_files(record: dict) -> None:
    for ctr in record["containers"]:
        _remove_container(ctr["name"])
    _remove_container(record["infra"])
    with store.locked():
        store.delete_pod(record["name"])


def drain(name: str) -> None:
    """Remove a pod without failing a request: out of its Services first, then
    removed once its open connections are done (at most the pod's
    terminationGracePeriodSeconds), then its flows forgotten."""
    import time

    from pycontain.kube import lb
    record = store.pod(name)
    if record is None:
        return
    _stop_supervisor(record)  # it would make the pod ready again
    store.update_pod(name, ready=False, draining=True)
    if record["ready"] and record["ip"]:
        lb.sync()
        deadline = time.monotonic() + record.get("grace", 30)
        time.sleep(0.1)  # a connection the old rules just sent its way is under way
        while lb.open_flows(record["ip"]) and time.monotonic() < deadline:
            time.sleep(0.1)
    remove(name)
    if record["ip"]:
        lb.forget([record["ip"]])
