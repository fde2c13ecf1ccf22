"""The engine: docker-level containers over the OCI core (pycontain.oci).

Belongs here: the run flags -> OCI spec (spec), a container's record and
state on disk (state, names, inspect, logs, gc), its start and monitor
(container, attach, streams, execute), the resources each container takes and
gives back (resources, with cgroup_provider and pycontain.net's provider), the
/etc files it gets (hostfiles), and `pycontain stats` / `update`.

Must not: be imported by pycontain.oci or pycontain.runc (the core runs a
bundle without knowing any of this).
"""
