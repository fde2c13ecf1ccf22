"""The whole `pycontain` command line: the root group with every command
module registered on it."""
from pycontain.cli import build_commands  # noqa: F401  (build, builder prune)
from pycontain.cli import changes_commands  # noqa: F401  (diff, commit, export, history)
from pycontain.cli import container_commands  # noqa: F401  (run, ps, exec, rm...)
from pycontain.cli import copy_commands  # noqa: F401  (cp)
from pycontain.cli import fn_commands  # noqa: F401  (fn)
from pycontain.cli import image_commands  # noqa: F401  (pull, load, save, rmi...)
from pycontain.cli import info  # noqa: F401  (info)
from pycontain.cli import kube_commands  # noqa: F401  (kube play, down, ps)
from pycontain.cli import lifecycle_commands  # noqa: F401  (create, start, wait, attach...)
from pycontain.cli import network_commands  # noqa: F401  (network, port)
from pycontain.cli import resource_commands  # noqa: F401  (update, stats)
from pycontain.cli import route_commands  # noqa: F401  (fn route)
from pycontain.cli import system_commands  # noqa: F401  (system gc)
from pycontain.cli import trigger_commands  # noqa: F401  (fn trigger)
from pycontain.cli import volume_commands  # noqa: F401  (volume)
from pycontain.cli import aliases  # noqa: F401,E402  (last: container/image groups, system df)
from pycontain.cli.group import cli

__all__ = ["cli"]
