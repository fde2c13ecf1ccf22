#!/bin/busybox sh
# PID 1 of the test guest's initramfs: load the 9p and overlay modules, put a
# tmpfs-backed overlay over the host's read-only root and switch_root into it
# (not chroot: user namespaces fail inside a chroot), running guest.sh there.
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
         netfs fscache 9pnet 9pnet_virtio 9p overlay; do
    insmod "/modules/$m.ko" || echo "init: insmod $m failed"
done
results=$RESULTS  # from the kernel command line
mkdir -p /host /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host
mount -t tmpfs -o size=1g tmpfs /upper
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/host,upperdir=/upper/u,workdir=/upper/w /newroot
mkdir -p "/newroot$results"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results "/newroot$results"
. "/newroot$results/job"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/sh "$REPO/tests/vm/guest.sh" "$results"
