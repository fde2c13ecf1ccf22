"""`pycontain info`: which protections and features this host gives containers."""
import json
import os

import click

from pycontain.cli.group import cli


def gather() -> dict:
    """Everything `info` reports, as a dict."""
    from pycontain import paths
    from pycontain.oci import userns
    from pycontain.oci.cgroups import devices, hierarchy
    from pycontain.oci.security import caps, probe

    host = hierarchy.detect()
    rootless = os.geteuid() != 0
    return {
        "rootless": rootless,
        "data_root": paths.data_root(),
        "run_root": paths.run_root(),
        "cgroups": {"version": host.version if host else None,
                    "controllers": sorted(host.controllers) if host else [],
                    "delegated": (not rootless) or userns.cgroup_delegated()},
        "seccomp": dict(probe.seccomp_status(), default_profile="docker-equivalent"),
        "capabilities": {"default": list(caps.DEFAULT), "kernel_last": caps.last_cap()},
        "no_new_privileges": True,
        "devices": devices.enforcement(host, rootless),
        "user_namespaces": probe.user_namespaces(),
        "overlay_in_userns": probe.overlay_in_userns(),
        "newuidmap": probe.newidmap(),
        "subuid": userns.subid_range("/etc/subuid", os.geteuid()),
    }


def _yes(value) -> str:
    return {True: "yes", False: "no", None: "-"}.get(value, str(value))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def info(fmt):
    """Show the security features and cgroups this host gives containers."""
    data = gather()
    if fmt == "json":
        click.echo(json.dumps(data, indent=1))
        return
    cg, sc = data["cgroups"], data["seccomp"]
    sub = data["subuid"]
    rows = [
        ("Rootless", _yes(data["rootless"])),
        ("Data root", data["data_root"]),
        ("Run root", data["run_root"]),
        ("Cgroup version", str(cg["version"] or "none")),
        ("Cgroup controllers", " ".join(cg["controllers"]) or "-"),
        ("Cgroup limits usable", _yes(cg["delegated"])),
        ("Seccomp", f"{_yes(sc['kernel'])} (libseccomp {sc['libseccomp'] or 'missing'}, "
                    "default profile on)"),
        ("Default capabilities", " ".join(c[4:] for c in data["capabilities"]["default"])),
        ("no_new_privs", "yes (--security-opt no-new-privileges)"),
        ("Device policy", data["devices"]),
        ("User namespaces", _yes(data["user_namespaces"])),
        ("Overlay in user namespace", _yes(data["overlay_in_userns"])),
        ("newuidmap/newgidmap", _yes(data["newuidmap"])),
        ("Subordinate uids", f"{sub[0]}-{sub[0] + sub[1] - 1}" if sub else "none"),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<28}{value}")
