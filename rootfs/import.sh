#!/usr/bin/env bash
# Import the bundled images (busybox, python) into the calling user's store, unless
# they are there: root's store as root, the user's own store when run as a user.
set -euo pipefail
cd "$(dirname "$0")/.."
for image in busybox python; do
    if ! .venv/bin/pycontain images --format json | grep -q "\"localhost/$image:latest\""; then
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        .venv/bin/python rootfs/build.py "$tmp" "$image" >/dev/null
        .venv/bin/pycontain import "oci:$tmp/$image" "localhost/$image:latest"
        rm -rf "$tmp"
        trap - EXIT
    fi
done
