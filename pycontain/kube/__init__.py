"""`pycontain kube`: Kubernetes Pods, Deployments, Services, ConfigMaps and
Secrets on one machine.

manifest  parse and validate the YAML (bounded), warn on unsupported fields
podspec   a pod's container into the engine's RunOptions (env, volumes, limits)
store     what kube started: pods, services (one JSON file each, under a lock)
lb        the Services' load balancer: one nftables table, rebuilt atomically
pods      start and remove a pod (infra container + its containers)
supervise the per-pod supervisor: restarts with back-off, probes, readiness
play      play / down / ps
"""
