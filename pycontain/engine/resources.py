"""Host-side resources a container holds while it runs (cgroups, networks...).

Each provider module named in PROVIDERS offers three functions:
    attach(ctr, spec, pid)  between the process's creation and its start:
                            e.g. move pid into a cgroup, plug a veth into its netns;
    release(ctr)            once the container has exited (or failed to start),
                            and from `system gc`: must be idempotent;
and may offer:
    prepare(ctr, spec, ctx) before the process exists: set up what it joins by
                            itself, noted in ctx (its oci.context.InitContext);
    join(ctr, pid)          an `exec`ed process joins the container's resources;
    collect(known_ids)      from `system gc`: remove what no container owns,
                            returning one line per thing removed.
Providers are imported only when used, so a container that needs none of them
pays nothing on its start path. A failing attach aborts the start (and the
resources already attached are released).
"""
import sys

PROVIDERS: tuple = ("pycontain.engine.cgroup_provider", "pycontain.net.provider")


def _modules():
    """The provider modules (__import__, not importlib: that costs ~0.5 ms per start)."""
    for name in PROVIDERS:
        __import__(name)
    return [sys.modules[name] for name in PROVIDERS]


def prepare(ctr, spec: dict, ctx) -> None:
    """Before the container's process exists: each provider's optional
    prepare(ctr, spec, ctx) sets up what the process will join by itself and
    notes it in ctx, its oci.context.InitContext (e.g. cgroup files to join)."""
    for module in _modules():
        if hasattr(module, "prepare"):
            try:
                module.prepare(ctr, spec, ctx)
            except BaseException:
                release(ctr)
                raise


def attach(ctr, spec: dict, pid: int) -> None:
    for module in _modules():
        try:
            module.attach(ctr, spec, pid)
        except BaseException:
            release(ctr)
            raise


def release(ctr) -> None:
    for module in _modules():
        module.release(ctr)


def join(ctr, pid: int) -> None:
    for module in _modules():
        if hasattr(module, "join"):
            module.join(ctr, pid)


def collect(known_ids) -> list:
    return [line for module in _modules() if hasattr(module, "collect")
            for line in module.collect(known_ids)]
