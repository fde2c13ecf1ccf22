"""What `ps` and `inspect` show about containers."""
import os

from pycontain.fsutil import read_json
from pycontain.engine import health, state
from pycontain.engine.orphans import listed, settle
from pycontain.timefmt import iso as _iso


def _spec(ctr) -> dict:
    try:
        return read_json(ctr.path("config.json"))
    except FileNotFoundError:
        return {}


def _restart_policy(ctr) -> dict:
    from pycontain.engine.restart import parse
    name, retries = parse(ctr.meta.get("restart") or "no")
    return {"Name": name, "MaximumRetryCount": retries}


def _restarts(ctr) -> int:
    if (ctr.meta.get("restart") or "no") == "no":
        return 0
    from pycontain.engine.restart import count
    return count(ctr)


def _log_path(ctr) -> str:
    from pycontain.engine import logfile
    for name in (logfile.NAME, logfile.PLAIN_NAME):
        if os.path.exists(ctr.path(name)):
            return ctr.path(name)
    return ""


def summaries() -> list:
    """One dict per container, for `ps`."""
    rows = []
    for ctr in listed():
        spec = _spec(ctr)
        running = ctr.status in (state.RUNNING, state.PAUSED)
        rows.append({"Id": ctr.id, "Name": ctr.name, "Image": ctr.meta["image"],
                     "ImageID": ctr.meta["image_id"],
                     "Command": spec.get("process", {}).get("args", []),
                     "Created": ctr.meta["created"], "State": ctr.status,
                     "StartedAt": ctr.state.started_at, "FinishedAt": ctr.state.finished_at,
                     "ExitCode": ctr.state.exit_code, "Labels": labels(ctr),
                     "Health": health.status(ctr) if ctr.alive() else None,
                     "Networks": networks(ctr), "Ports": ports(ctr) if running else []})
    return sorted(rows, key=lambda r: -r["Created"])


def _health(ctr) -> dict:
    """State.Health, if the container has a healthcheck (times as docker's)."""
    found = health.read(ctr)
    if found is None:
        return {}
    log = [dict(r, Start=_iso(r["Start"]), End=_iso(r["End"])) for r in found.get("Log", [])]
    return {"Health": dict(found, Log=log)}


def _run_settings(meta: dict) -> dict:
    """Config.StopSignal, StopTimeout and Healthcheck, where set (docker omits them)."""
    keys = (("StopSignal", "stop_signal"), ("StopTimeout", "stop_timeout"),
            ("Healthcheck", "healthcheck"))
    return {key: meta[field] for key, field in keys if meta.get(field) is not None}


def _namespace_modes(meta: dict) -> dict:
    modes = meta.get("namespaces") or {}
    return {"PidMode": modes.get("pid", ""), "IpcMode": modes.get("ipc", "private"),
            "UTSMode": modes.get("uts", "")}


def labels(ctr) -> dict:
    """The container's labels (run --label), as inspect's Config.Labels."""
    return dict(ctr.meta.get("labels") or {})


def networks(ctr) -> list:
    """The networks the container was run on (docker's NETWORKS)."""
    net = ctr.meta.get("net")
    return list(net.get("networks", [])) if net else [ctr.meta.get("network") or "none"]


def ports(ctr) -> list:
    """Its published ports ({host_ip, host_port, container_port, proto})."""
    try:
        return read_json(ctr.path("net.json")).get("ports", [])
    except (FileNotFoundError, ValueError):
        return []


def inspect(ctr) -> dict:
    """docker-inspect-shaped description of one container."""
    settle(ctr)
    spec = _spec(ctr)
    st = ctr.state
    running = ctr.status in (state.RUNNING, state.PAUSED)
    process = spec.get("process", {})
    return {
        "Id": ctr.id, "Name": ctr.name, "Created": _iso(ctr.meta["created"]),
        "Path": (process.get("args") or [""])[0], "Args": (process.get("args") or [])[1:],
        "State": {"Status": ctr.status, "Running": running, "Paused": ctr.status == state.PAUSED,
                  "Pid": st.pid if running else 0,
                  "ExitCode": st.exit_code, "OOMKilled": st.oom_killed, "Error": st.error,
                  "StartedAt": _iso(st.started_at), "FinishedAt": _iso(st.finished_at),
                  **_health(ctr)},
        "Image": ctr.meta["image_id"], "ImageName": ctr.meta["image"],
        "LogPath": _log_path(ctr),
        "Config": {"Hostname": spec.get("hostname"), "Env": process.get("env"),
                   "Cmd": process.get("args"), "WorkingDir": process.get("cwd"),
                   "User": process.get("user"), "Tty": process.get("terminal"),
                   "Labels": labels(ctr), **_run_settings(ctr.meta)},
        "RestartCount": _restarts(ctr),
        "HostConfig": {"AutoRemove": ctr.meta.get("rm", False),
                       "RestartPolicy": _restart_policy(ctr),
                       "NetworkMode": ctr.meta.get("network"), **_namespace_modes(ctr.meta),
                       "ReadonlyRootfs": spec.get("root", {}).get("readonly", False)},
        "GraphDriver": {"Name": "overlay", "Data": {
            "LowerDir": ":".join(os.path.join(ctr.meta["store"], d) for d in ctr.meta["lower"]),
            "UpperDir": ctr.path("upper"), "WorkDir": ctr.path("work")}},
        "Mounts": _mounts(ctr, spec),
    }


def _mounts(ctr, spec: dict) -> list:
    """The user's binds and volumes (as docker shows them), not the engine's own."""
    named = {ref["destination"]: ref["name"] for ref in ctr.meta.get("volumes") or ()}
    found = []
    for m in spec.get("mounts", []):
        if m.get("type") != "bind" or m["destination"].startswith(("/etc/", "/dev/")):
            continue
        entry = {"Type": "bind", "Source": m["source"], "Destination": m["destination"],
                 "RW": "ro" not in m.get("options", [])}
        if m["destination"] in named:
            entry.update(Type="volume", Name=named[m["destination"]], Driver="local")
        found.append(entry)
    return found
