"""What a new container asks of the network, checked before anything is created."""
from pycontain.errors import PycontainError
from pycontain.net import config, ports

NO_BRIDGE = ("none", "host")


def network_request(opts, image_cfg: dict):
    """The `net` entry of a container's record: {"networks": [name], "ports": [...]},
    or None for --network none/host (which cannot publish ports)."""
    publish = opts.publish or opts.publish_all
    if opts.network in NO_BRIDGE:
        if publish:
            raise PycontainError(f"cannot publish ports with --network {opts.network}: "
                                 "use a bridge network (--network bridge or a user network)")
        return None
    config.load(opts.network)  # an unknown network fails here, before anything exists
    return {"networks": [opts.network],
            "ports": ports.requested(opts.publish, opts.publish_all, image_cfg, opts.expose)}
