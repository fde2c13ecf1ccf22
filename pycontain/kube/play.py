"""`kube play`, `kube down`, `kube ps`: the objects of YAML files, started,
removed, listed. A play that fails part way removes what it had started."""
import ipaddress
import os
import socket

from pycontain.errors import PycontainError
from pycontain.kube import lb, manifest, podspec, pods, rollout, store

SERVICE_SUBNET = os.environ.get("PYCONTAIN_KUBE_SERVICE_SUBNET", "10.96.0.0/16")
NODE_PORTS = range(30000, 32768)
NAMESPACE = "default"


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
        claims = {o["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"}
        for name, vol in obj["spec"]["volumes"].items():
            if vol["kind"] == "persistentVolumeClaim" and vol["claimName"] not in claims:
                podspec.claim(vol["claimName"])
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


def _service_record(obj: dict, taken: list, network: str) -> dict:
    """A Service's record: its ClusterIP (the one asked for, the one it had, or
    the lowest free one) and its ports (a node port chosen if not given; the
    host ports it takes must be free, unless it holds them already)."""
    previous = next((s for s in taken if s["name"] == obj["name"]), None)
    taken = [s for s in taken if s is not previous]
    used = {s["clusterIP"] for s in taken}
    net = ipaddress.ip_network(SERVICE_SUBNET)
    address = obj["spec"]["clusterIP"] or (previous or {}).get("clusterIP")
    if obj["spec"]["clusterIP"] and (ipaddress.ip_address(address) not in net
                                     or address in used):
        raise PycontainError(f"Service {obj['name']}: clusterIP {address} is not a free "
                             f"address of the service subnet {SERVICE_SUBNET}")
    address = address or next(str(a) for a in net.hosts()
                              if int(a) - int(net.network_address) >= 10 and str(a) not in used)
    node_used = {p.get("nodePort") for s in taken for p in s["ports"]}
    held = _local_ports(previous) if previous else set()
    ports = []
    for port in obj["spec"]["ports"]:
        port = dict(port)
        if obj["spec"]["type"] == "NodePort" and port["nodePort"] is None:
            port["nodePort"] = next((p for p in NODE_PORTS if p not in node_used), None)
            if port["nodePort"] is None:
                raise PycontainError(f"Service {obj['name']}: no free node port left "
                                     f"({NODE_PORTS.start}-{NODE_PORTS.stop - 1})")
        node_used.add(port["nodePort"])
        ports.append(port)
    record = {"name": obj["name"], "type": obj["spec"]["type"], "clusterIP": address,
              "ports": ports, "selector": obj["spec"]["selector"], "network": network}
    for local, proto in _local_ports(record) & {p for s in taken for p in _local_ports(s)}:
        raise PycontainError(f"Service {obj['name']}: port {local}/{proto} is taken by "
                             "another Service")
    for local, proto in _local_ports(record) - held:
        _free_port(local, proto)
    return record


def _local_ports(service: dict) -> set:
    """The host ports a Service takes: its port (LoadBalancer), its nodePort."""
    kind = service["type"]
    return {(p["port"] if kind == "LoadBalancer" else p["nodePort"], p["protocol"])
            for p in service["ports"] if kind != "ClusterIP"}


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
    """Remove the network if kube created it and no pod or Service is left on it."""
    from pycontain.net import api
    marker = os.path.join(store.root(), f"network-{network}")
    if os.path.exists(marker) and network not in _networks(store.pods(), store.services()):
        try:
            api.remove(network)
        except PycontainError:
            return  # another container uses it
        os.unlink(marker)


def play(files: list, replace: bool = False, network: str = "kube",
         publish_all: bool = False) -> tuple:
    """Start every object of the files; (started pod names, services, warnings).
    With replace, what runs already is replaced: Deployments by their strategy
    (rollout), Pods removed and started again, Services updated in place."""
    objects, warnings = manifest.load(files)
    sources = podspec.Sources(objects)
    _check(objects, sources)
    found_pods, found_services = _existing(objects)
    if (found_pods or found_services) and not replace:
        raise PycontainError(f"already running: {', '.join(found_pods + found_services)} "
                             "(use kube play --replace, or kube down first)")
    _ensure_network(network)
    started, services, claims = [], [], []
    known = {d["name"] for d in store.records("deployments")}
    try:
        for obj in objects:
            if obj["kind"] == "PersistentVolumeClaim" and store.make_claim(obj["name"]):
                claims.append(obj["name"])
        with store.locked():
            for obj in objects:
                if obj["kind"] == "Service":
                    store.save_record("services", _service_record(obj, store.services(), network))
                    if obj["name"] not in found_services:
                        services.append(obj["name"])
        _names_file(network)
        lb.sync()
        for obj in objects:
            if obj["kind"] == "Pod":
                if obj["name"] in found_pods:
                    pods.drain(obj["name"])
                pods.start(obj["name"], obj["labels"], obj["spec"], sources, network,
                           publish_all=publish_all)
                started.append(obj["name"])
            elif obj["kind"] == "Deployment":
                rollout.roll(obj, lambda name, o=obj: pods.start(
                    name, o["podLabels"], o["spec"], sources, network, owner=o["name"],
                    publish_all=publish_all), started)
    except BaseException:
        for obj in objects:
            if obj["kind"] == "Deployment" and obj["name"] not in known:
                store.delete_record("deployments", obj["name"])
        _undo(started, services, network, claims)
        raise
    return started, services, warnings


def _undo(pod_names: list, service_names: list, network: str, claims=(),
          graceful: bool = False) -> None:
    pods.remove_all(pod_names, graceful)
    with store.locked():
        for name in service_names:
            store.delete_record("services", name)
    for name in claims:
        store.remove_claim(name)
    lb.sync()
    from pycontain.net import config
    if network in config.names():
        _names_file(network)
    _drop_network(network)


def down(files: list, volumes: bool = False) -> list:
    """Remove what the files' objects started (with volumes, their
    PersistentVolumeClaims' data too); the names removed."""
    objects, _ = manifest.load(files)
    found_pods, found_services = _existing(objects)
    claims = [o["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"
              and volumes and o["name"] in store.claims()]
    for claim, user in _claim_users(claims, set(found_pods)).items():
        raise PycontainError(f"PersistentVolumeClaim {claim} is in use by container "
                             f"{user[:12]}: remove it first (nothing was removed)")
    removed = found_pods + found_services + claims
    networks = _networks([p for p in store.pods() if p["name"] in found_pods],
                         [s for s in store.services() if s["name"] in found_services]) or {"kube"}
    for obj in objects:
        if obj["kind"] == "Deployment":
            store.delete_record("deployments", obj["name"])
    for network in sorted(networks):
        _undo(found_pods, found_services, network, claims, graceful=True)
        found_pods = found_services = claims = []
    return removed


def _networks(pod_records: list, service_records: list) -> set:
    """The networks of pods and Services (records older than `network` on
    Services: kube's default)."""
    return ({p["network"] for p in pod_records}
            | {s.get("network", "kube") for s in service_records})


def _claim_users(claims: list, leaving: set) -> dict:
    """{claim: a container, not of the pods leaving, that mounts it}
    (Kubernetes' pvc-protection: a claim in use is not deleted)."""
    from pycontain.engine import state, volumes
    ours = set()
    for pod in store.pods():
        if pod["name"] in leaving:
            for name in [c["name"] for c in pod["containers"]] + [pod["infra"]]:
                try:
                    ours.add(state.lookup(name).id)
                except PycontainError:
                    continue
    used = volumes.users()
    return {claim: others[0] for claim in claims
            if (others := [c for c in used.get(claim, ()) if c not in ours])}


def status() -> dict:
    """Deployments (ready/desired), pods, Services with their ready endpoints
    and PersistentVolumeClaims, as `kube ps` shows them."""
    all_pods, services = store.pods(), store.services()
    return {"deployments": [{"name": d["name"], "desired": d["replicas"],
                             "ready": sum(1 for p in all_pods
                                          if p["owner"] == d["name"] and p["ready"])}
                            for d in store.records("deployments")],
            "pods": [{"name": p["name"], "owner": p["owner"], "ip": p["ip"],
                      "ready": p["ready"], "restarts": sum((p.get("restarts") or {}).values()),
                      "containers": [c["name"] for c in p["containers"]]} for p in all_pods],
            "services": [{"name": s["name"], "type": s["type"], "clusterIP": s["clusterIP"],
                          "ports": s["ports"],
                          "endpoints": [f"{ip}:{target}" for _, eps in lb.endpoints(s, all_pods)
                                        for ip, target in eps]} for s in services],
            "claims": [{"name": c, "path": store.claim_dir(c)} for c in store.claims()]}
