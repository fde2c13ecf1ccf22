"""`kube play`, `kube down`, `kube ps`: the objects of YAML files, started,
removed, listed. A play that fails part way removes what it had started."""
import ipaddress
import os
import socket

from pycontain.errors import PycontainError
from pycontain.kube import lb, manifest, podspec, pods, store

SERVICE_SUBNET = os.environ.get("PYCONTAIN_KUBE_SERVICE_SUBNET", "10.96.0.0/16")
NODE_PORTS = range(30000, 32768)
POD_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' (no vowels, no 0/1/3)
NAMESPACE = "default"


def _pod_suffix() -> str:
    return "".join(POD_NAME_CHARS[b % len(POD_NAME_CHARS)] for b in os.urandom(5))


def _check(objects: list, sources) -> None:
    """Everything that can be known before starting: images, references."""
    from pycontain import paths
    from pycontain.image.store import ImageStore
    images = ImageStore(paths.data_root())
    for obj in objects:
        if obj["kind"] not in ("Pod", "Deployment"):
            continue
        for ctr in obj["spec"]["containers"]:
            try:
                images.resolve(ctr["image"])
            except PycontainError as exc:
                raise PycontainError(f"{obj['kind']} {obj['name']}: container {ctr['name']}: "
                                     f"{exc}") from None
            podspec.environment(ctr, {"name": obj["name"], "ip": ""}, sources)
        for name, vol in obj["spec"]["volumes"].items():
            if vol["kind"] in ("configMap", "secret"):
                kind = "ConfigMap" if vol["kind"] == "configMap" else "Secret"
                sources.data(kind, vol.get("name") or vol.get("secretName"), vol.get("optional"))


def _existing(objects: list) -> tuple:
    names = {o["name"] for o in objects if o["kind"] == "Pod"}
    owners = {o["name"] for o in objects if o["kind"] == "Deployment"}
    services = {o["name"] for o in objects if o["kind"] == "Service"}
    found_pods = [p["name"] for p in store.pods() if p["name"] in names or p["owner"] in owners]
    found_services = [s["name"] for s in store.services() if s["name"] in services]
    return found_pods, found_services


def _free_port(port: int, proto: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp"
                         else socket.SOCK_DGRAM)
    try:
        sock.bind(("0.0.0.0", port))
    except OSError as exc:
        raise PycontainError(f"cannot expose port {port}/{proto}: {exc.strerror.lower()} on "
                             "the host (is another program using it?)") from None
    finally:
        sock.close()


def _service_record(obj: dict, taken: list) -> dict:
    used = {s["clusterIP"] for s in taken}
    net = ipaddress.ip_network(SERVICE_SUBNET)
    address = next(str(a) for a in net.hosts() if int(a) - int(net.network_address) >= 10
                   and str(a) not in used)
    node_used = {p.get("nodePort") for s in taken for p in s["ports"]}
    ports = []
    for port in obj["spec"]["ports"]:
        port = dict(port)
        if obj["spec"]["type"] == "NodePort" and port["nodePort"] is None:
            port["nodePort"] = next(p for p in NODE_PORTS if p not in node_used)
        node_used.add(port["nodePort"])
        local = port["port"] if obj["spec"]["type"] == "LoadBalancer" else port["nodePort"]
        if obj["spec"]["type"] != "ClusterIP":
            _free_port(local, port["protocol"])
        ports.append(port)
    return {"name": obj["name"], "type": obj["spec"]["type"], "clusterIP": address,
            "ports": ports, "selector": obj["spec"]["selector"]}


def _names_file(network: str) -> None:
    """Services by name in the network's containers' /etc/hosts."""
    from pycontain.net import hosts
    hosts.set_extra(network, {s["clusterIP"]: [s["name"], f"{s['name']}.{NAMESPACE}",
                                               f"{s['name']}.{NAMESPACE}.svc",
                                               f"{s['name']}.{NAMESPACE}.svc.cluster.local"]
                              for s in store.services()})


def _ensure_network(network: str) -> None:
    from pycontain.net import api, config
    if network not in config.names():
        api.create(network)
        open(os.path.join(store.root(), f"network-{network}"), "w").close()


def _drop_network(network: str) -> None:
    """Remove the network if kube created it and nothing of kube is left on it."""
    from pycontain.net import api
    marker = os.path.join(store.root(), f"network-{network}")
    if os.path.exists(marker) and not store.pods() and not store.services():
        try:
            api.remove(network)
        except PycontainError:
            return  # another container uses it
        os.unlink(marker)


def play(files: list, replace: bool = False, network: str = "kube") -> tuple:
    """Start every object of the files; (started pod names, services, warnings)."""
    objects, warnings = manifest.load(files)
    sources = podspec.Sources(objects)
    _check(objects, sources)
    found_pods, found_services = _existing(objects)
    if found_pods or found_services:
        if not replace:
            raise PycontainError(f"already running: {', '.join(found_pods + found_services)} "
                                 "(use kube play --replace, or kube down first)")
        down(files)
    _ensure_network(network)
    started, services = [], []
    try:
        with store.locked():
            for obj in objects:
                if obj["kind"] == "Service":
                    record = _service_record(obj, store.services())
                    store.save_service(record)
                    services.append(record["name"])
        _names_file(network)
        lb.sync()
        for obj in objects:
            if obj["kind"] == "Pod":
                pods.start(obj["name"], obj["labels"], obj["spec"], sources, network)
                started.append(obj["name"])
            elif obj["kind"] == "Deployment":
                for _ in range(obj["replicas"]):
                    name = f"{obj['name']}-{_pod_suffix()}"
                    pods.start(name, obj["podLabels"], obj["spec"], sources, network,
                               owner=obj["name"])
                    started.append(name)
    except BaseException:
        _undo(started, services, network)
        raise
    return started, services, warnings


def _undo(pod_names: list, service_names: list, network: str, graceful: bool = False) -> None:
    for name in pod_names:
        pods.remove(name, graceful)
    with store.locked():
        for name in service_names:
            store.delete_service(name)
    lb.sync()
    from pycontain.net import config
    if network in config.names():
        _names_file(network)
    _drop_network(network)


def down(files: list) -> list:
    """Remove what the files' objects started; the names removed."""
    objects, _ = manifest.load(files)
    found_pods, found_services = _existing(objects)
    removed = found_pods + found_services
    networks = {p["network"] for p in store.pods() if p["name"] in found_pods} or {"kube"}
    for network in sorted(networks):
        _undo(found_pods, found_services, network, graceful=True)
        found_pods = found_services = []
    return removed


def status() -> dict:
    """Pods and Services as `kube ps` shows them."""
    all_pods, services = store.pods(), store.services()
    return {"pods": [{"name": p["name"], "owner": p["owner"], "ip": p["ip"],
                      "ready": p["ready"], "restarts": sum((p.get("restarts") or {}).values()),
                      "containers": [c["name"] for c in p["containers"]]} for p in all_pods],
            "services": [{"name": s["name"], "type": s["type"], "clusterIP": s["clusterIP"],
                          "ports": s["ports"],
                          "endpoints": [f"{ip}:{target}" for _, eps in lb.endpoints(s, all_pods)
                                        for ip, target in eps]} for s in services]}
