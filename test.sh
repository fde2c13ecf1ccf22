#!/usr/bin/env bash
# Run pycontain's whole test suite as root: installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh
.venv/bin/python -I -m pytest -q -p no:cacheprovider tests "$@"  # -I: the installed package, not ./pycontain
if [ $# -eq 0 ] && [ -z "${PYCONTAIN_SKIP_VM:-}" ]; then
    tests/vm/run.sh                   # the cgroup tests again, in a pure cgroup v2 VM
    tests/vm/validate_vagrantfile.sh
fi
