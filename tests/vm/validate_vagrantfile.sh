#!/usr/bin/env bash
# CI: check that the repository's Vagrantfile is valid (`vagrant validate`
# works offline; `vagrant up` needs a hypervisor and a box download).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v vagrant >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends vagrant >/dev/null
fi
# --ignore-provider: no hypervisor here, so the provider blocks cannot be checked
VAGRANT_CHECKPOINT_DISABLE=1 vagrant validate --ignore-provider
