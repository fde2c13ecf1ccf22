"""Images: references (reference.py), the local store (store.py), sources
(oci_layout.py; registries and archives later), manifests (manifest.py) and
safe layer unpacking (unpack.py, compression.py).

Nothing is imported here so that `pycontain run` pays only for what it uses
(store.py + reference.py on the hot path).
"""
