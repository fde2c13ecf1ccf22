"""cgroups: every container in a cgroup of its own, under a parent of pycontain's.

hierarchy  where the host's cgroup file systems are (v2, or v1 on hybrid hosts)
limits     OCI linux.resources -> the files to write, for v2 and for v1
ocispec    run flags -> OCI resources, rlimits, and the in-container cgroup mounts
devices    OCI device rules -> v1 devices.allow/deny lines, or a v2 eBPF program
group      one container's cgroup: create, add, apply, kill, remove, oom, sample

The engine's hooks over these (attach, join, release, collect) are
pycontain.engine.cgroup_provider; `pycontain stats` / `update` are
pycontain.engine.stats / .update.
"""
