"""pycontain-runc: a runc-compatible OCI runtime over pycontain's runtime.

conmon (podman), containerd's runc shim and CRI-O call a low-level runtime with
runc's command line: `create` sets a bundle's container up and leaves its first
process blocked before exec, `start` lets it exec, the caller reaps it. No
process of ours stays between them.
"""
