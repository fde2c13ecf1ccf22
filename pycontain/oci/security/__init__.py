"""Security defaults: capabilities, no_new_privs, seccomp, privileged mode.

config      builds the spec's process.capabilities, noNewPrivileges and
            linux.seccomp from run options (docker's defaults and flags)
caps        capability names and sets; applied inside the container
seccomp     docker-format profiles -> OCI seccomp -> cached BPF program
compiler    libseccomp (through cffi), used only when the cache misses
lockdown    the last steps before exec: no_new_privs, seccomp, bounding set,
            user switch, capability sets
mountcheck  refuses kernel file systems on symlinked image paths
"""
