"""Images: references (reference.py), the local store (store.py, written by
_storeio.py, collected by gc.py), sources (oci_layout.py; registries:
pull.py, registry.py, transport.py, auth.py; archives: archive_load.py,
archive_save.py; flat root file systems: rootfs_import.py), manifests
(manifest.py) and safe layer unpacking (unpack.py, compression.py).

Nothing is imported here so that `pycontain run` pays only for what it uses
(store.py + reference.py on the hot path).
"""
