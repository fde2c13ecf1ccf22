#!/usr/bin/env bash
# Run pycontain's whole test suite as root: installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider tests "$@"
