"""The OCI core: an OCI bundle (config.json's spec + a root) -> a running process.

Belongs here: the container's init (nsinit) and its spawn (process, launch,
context), the rootfs and its mounts, namespaces' id maps (userns), consoles,
hooks, the security steps (security/) and cgroups (cgroups/), waiting and
signal relay for a child, and the spec defaults every caller shares.
Used by the engine (pycontain.engine), pycontain-runc (pycontain.runc) and the
function jails (pycontain.fn).

Must not: know images, container names or records, networks, monitors,
functions or the command line -- never import pycontain.engine, .image, .net,
.fn or .cli, nor name what only they do (tests/unit/test_layering.py checks
both). A caller whose init does more than a container's subclasses
context.InitContext and replaces its steps.
"""
