#!/usr/bin/env bash
# Run pycontain's whole test suite as root: installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh
# What only the tests need: the real callers of pycontain-runc (podman, containerd),
# a registry with basic auth (docker-registry, htpasswd from apache2-utils), the AWS
# CLI version 2 (awscli; version 1 is in the `test` extra), the reference builder
# `pycontain build` is compared with (buildah), a RabbitMQ broker for fn triggers
# (rabbitmq-server; the tests start private nodes), curl and zip (the README test),
# the real programs run in default containers (postgresql, nodejs; curl again),
# and the Python test dependencies (pyproject.toml's `test` extra).
TEST_PACKAGES=(podman containerd golang-go docker-registry apache2-utils awscli buildah
               rabbitmq-server curl zip postgresql nodejs)
missing=()
for pkg in "${TEST_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
.venv/bin/python -I -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["test"]))' \
    | xargs .venv/bin/pip install -q --disable-pip-version-check 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -I -m pytest -q -p no:cacheprovider tests "$@"  # -I: the installed package, not ./pycontain
if [ $# -eq 0 ] && [ -z "${PYCONTAIN_SKIP_VM:-}" ]; then
    tests/vm/run.sh                   # the cgroup tests again, in a pure cgroup v2 VM
    tests/vm/validate_vagrantfile.sh
fi
