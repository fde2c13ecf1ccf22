"""The container runtime: consumes an OCI runtime spec and runs its process."""
