#!/bin/sh
# Inside the guest, as PID 1 of the switched-to root: mount what a booted
# system has (cgroup2 only: a pure v2 host, controllers delegated from the root
# as systemd does), run the listed tests and leave the log and the exit code
# in the results share. The kernel powers off when PID 1 exits (-no-reboot).
results=$1
. "$results/job"
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# scratch on tmpfs (overlay upper dirs cannot live on the overlay root), not over
# /tmp: the repository itself may be there (a CI clone)
mkdir -p /scratch
mount -t tmpfs -o size=1g tmpfs /scratch
mount -t tmpfs tmpfs /run
echo "+cpu +cpuset +io +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
hostname pycontain-vm
cd "$REPO"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export TMPDIR=/scratch PYCONTAIN_TEST_IMAGES=busybox  # the cgroup tests need no other
echo "guest: $(uname -r), cgroup controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)" \
    > "$results/log"
# shellcheck disable=SC2086
.venv/bin/python -I -B -m pytest -q -p no:cacheprovider --basetemp=/scratch/pytest $TESTS >> "$results/log" 2>&1
echo $? > "$results/rc"
sync
echo o > /proc/sysrq-trigger
