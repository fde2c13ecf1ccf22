#!/usr/bin/env bash
# Install everything pycontain needs on a Debian machine, as root, idempotently:
# apt packages, a virtualenv at .venv with pycontain installed (C extension and
# static init built), and the bundled default images (busybox, python) in the store.
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo ./install.sh)" >&2
    exit 1
fi

PACKAGES=(python3 python3-venv python3-dev gcc libc6-dev busybox-static
          libseccomp-dev libcap-dev uidmap iproute2 nftables conntrack runc bubblewrap skopeo umoci
          dnsmasq-base)  # dnsmasq-base: the DNS server of user networks; conntrack: kube Services
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian's interpreter, not a pyenv shim: it starts in a third of the time.
[ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
# A developer's editable install (pip install -e .) stays editable.
editable=()
if compgen -G '.venv/lib/python3*/site-packages/__editable__*pycontain*' >/dev/null; then
    editable=(-e)
fi
.venv/bin/pip install -q --disable-pip-version-check "${editable[@]}" . 2>&1 \
    | { grep -v '^WARNING: Location' || true; }  # pipefail: pip's own failure stops us
rm -rf build
.venv/bin/python -I -c 'import pycontain._native' || { echo "install.sh: C extension missing" >&2; exit 1; }
# The commands: pip installed the static launcher (setup.py builds csrc/launcher.c)
# as pycontain and pycontain-runc, in front of bin/pycontain installed as
# pycontain-main and pycontain-runc-main.
for main in pycontain-main pycontain-runc-main; do
    [ -x .venv/bin/$main ] || { echo "install.sh: launcher missing ($main)" >&2; exit 1; }
done

rootfs/import.sh
# Run through sudo: the invoking user gets the images too, for rootless use.
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    runtime=/run/user/$(id -u "$SUDO_USER")
    [ -d "$runtime" ] || runtime=
    if ! runuser -u "$SUDO_USER" -- env -i HOME="$home" PATH=/usr/bin:/bin \
            ${runtime:+XDG_RUNTIME_DIR=$runtime} rootfs/import.sh; then
        echo "install.sh: could not import the bundled images for $SUDO_USER" \
             "(rootless needs read access to this directory and user namespaces)" >&2
    fi
fi
echo "install.sh: ready: .venv/bin/pycontain"
