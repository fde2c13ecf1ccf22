#!/usr/bin/env bash
# Run the cgroup v2 tests (tests/vm/tests.txt) inside a pure cgroup v2 guest:
# the Debian kernel under qemu (TCG: KVM does not work on the CI machines),
# booted from a tiny busybox initramfs, with the host's root shared read-only
# over 9p (an overlay with a tmpfs upper on top) and a writable 9p share that
# carries the log and the exit code back. Exits with the guest's pytest status.
# Usage (root): tests/vm/run.sh [extra pytest args]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PACKAGES=(qemu-system-x86 linux-image-amd64 cpio busybox-static)
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
         netfs fscache 9pnet 9pnet_virtio 9p overlay)
TIMEOUT=${PYCONTAIN_VM_TIMEOUT:-900}

missing=()
for pkg in "${PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "vm: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
kernel=$(ls -v /boot/vmlinuz-*-amd64 | tail -1)
kver=${kernel#/boot/vmlinuz-}

work=$(mktemp -d /var/tmp/pycontain-vm.XXXXXX)  # not /tmp: the guest mounts a tmpfs there
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/initramfs/bin" "$work/initramfs/modules" "$work/results"
cp /bin/busybox "$work/initramfs/bin/busybox"
for m in "${MODULES[@]}"; do
    path=$(find "/lib/modules/$kver/kernel" -name "$m.ko" | head -1)
    [ -n "$path" ] || { echo "vm: module $m.ko not found for $kver" >&2; exit 1; }
    cp "$path" "$work/initramfs/modules/"
done
cp "$HERE/init.sh" "$work/initramfs/init"
chmod +x "$work/initramfs/init"
(cd "$work/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

tests=$(grep -v '^#' "$HERE/tests.txt" | xargs)
cat > "$work/results/job" <<JOB
REPO=$REPO
TESTS="$tests $*"
JOB

# A guest that reports nothing (seen once: both vCPUs in soft lockup under TCG
# while the host was loaded) is an infrastructure failure, not a test result:
# it gets one more boot. A test failure is never retried.
for attempt in 1 2; do
    rm -f "$work/results/rc"
    start=$(date +%s)
    timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -smp 2 -m 2048 \
        -kernel "$kernel" -initrd "$work/initrd.gz" \
        -append "console=ttyS0 quiet panic=-1 RESULTS=$work/results" \
        -nographic -no-reboot -nic none \
        -fsdev local,id=hr,path=/,security_model=none,readonly=on,multidevs=remap \
        -device virtio-9p-pci,fsdev=hr,mount_tag=hostroot \
        -fsdev local,id=res,path="$work/results",security_model=none \
        -device virtio-9p-pci,fsdev=res,mount_tag=results \
        > "$work/console.log" 2>&1 || true
    echo "vm: guest ran for $(( $(date +%s) - start )) s (kernel $kver, cgroup v2)"
    [ -s "$work/results/rc" ] && break
    echo "vm: the guest did not report a result (boot $attempt of 2); console:" >&2
    tail -40 "$work/console.log" >&2
done
[ -s "$work/results/rc" ] || exit 1
cat "$work/results/log"
exit "$(cat "$work/results/rc")"
