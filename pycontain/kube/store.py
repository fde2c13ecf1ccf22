"""What `kube play` started, on disk: <data root>/kube/.

    lock                    held (flock) around every read-modify-write
    pods/<pod>/pod.json     a pod: its containers' run options, address, readiness,
                            supervisor pid; pods/<pod>/volumes/ its emptyDir,
                            configMap and secret files
    services/<svc>.json     a Service: type, ports, selector, ClusterIP
    deployments/<d>.json    a Deployment: its desired replicas
    (claims are named volumes: `pycontain volume ls`; their data is kept by `kube down`
                            unless --volumes)
    lb.json                 the endpoints the load balancer was last given
"""
import os

from pycontain import paths
from pycontain.fsutil import locked_file, read_json, remove_tree, write_json


def root() -> str:
    return paths.ensure_dir(os.path.join(paths.data_root(), "kube"))


def locked() -> locked_file:
    return locked_file(os.path.join(root(), "lock"))


def _dir(kind: str) -> str:
    return paths.ensure_dir(os.path.join(root(), kind))


def pod_dir(name: str) -> str:
    return os.path.join(_dir("pods"), name)


def _names(kind: str, suffix: str = "") -> list:
    return sorted(e[:len(e) - len(suffix)] for e in os.listdir(_dir(kind))
                  if e.endswith(suffix) and not e.startswith("."))


def pods() -> list:
    found = []
    for name in _names("pods"):
        try:
            found.append(read_json(os.path.join(pod_dir(name), "pod.json")))
        except FileNotFoundError:
            pass  # being created or removed
    return found


def pod(name: str):
    try:
        return read_json(os.path.join(pod_dir(name), "pod.json"))
    except FileNotFoundError:
        return None


def save_pod(record: dict) -> None:
    os.makedirs(pod_dir(record["name"]), 0o700, exist_ok=True)
    write_json(os.path.join(pod_dir(record["name"]), "pod.json"), record, sync=False)


def update_pod(name: str, **changes) -> dict | None:
    """Change fields of a pod's record under the lock (None: it is gone)."""
    with locked():
        record = pod(name)
        if record is not None:
            record.update(changes)
            save_pod(record)
        return record


def delete_pod(name: str) -> None:
    remove_tree(pod_dir(name))


def records(kind: str) -> list:
    """The records of kind ("services", "deployments"), by name."""
    return [read_json(os.path.join(_dir(kind), f"{n}.json")) for n in _names(kind, ".json")]


def save_record(kind: str, record: dict) -> None:
    write_json(os.path.join(_dir(kind), f"{record['name']}.json"), record, sync=False)


def delete_record(kind: str, name: str) -> None:
    try:
        os.unlink(os.path.join(_dir(kind), f"{name}.json"))
    except FileNotFoundError:
        pass


def services() -> list:
    return records("services")


def lb_state() -> dict:
    try:
        return read_json(os.path.join(root(), "lb.json"))
    except FileNotFoundError:
        return {}


def save_lb_state(value: dict) -> None:
    write_json(os.path.join(root(), "lb.json"), value, sync=False)


CLAIM_LABEL = "io.pycontain.kube.claim"  # on the named volume behind a claim


def make_claim(name: str) -> bool:
    """The named volume (`pycontain volume`) holding PersistentVolumeClaim
    name's data, as podman makes one; an existing volume of that name is
    used as it is. True if made now."""
    from pycontain.engine import volumes
    made = name not in volumes.names()
    volumes.create(name, {CLAIM_LABEL: ""} if made else None)
    return made


def claim_dir(name: str) -> str:
    """Where a claim's data lives (its volume's mount point)."""
    from pycontain.engine import volumes
    return volumes.mountpoint(name)


def claims() -> list:
    """The names of the volumes made for claims."""
    from pycontain.engine import volumes
    return sorted(v["Name"] for v in volumes.listing() if CLAIM_LABEL in (v["Labels"] or {}))


def remove_claim(name: str) -> None:
    from pycontain.engine import volumes
    volumes.remove(name, force=True)
