#!/bin/sh
# Installs what `fossp lab` needs on a Debian 12 controller (run as root; idempotent).
# debootstrap builds the base root, btrfs-progs the pool, iproute2 the network,
# openssh-client reaches the hosts, apt-utils indexes the local package repository,
# util-linux and mount give nsenter, unshare and loop mounts.
set -eu

. "$(dirname "$0")/../lib/apt.sh"
apt_install debootstrap debian-archive-keyring btrfs-progs iproute2 openssh-client apt-utils util-linux mount ca-certificates

# Loop devices back the lab's BTRFS pool; the module is built in on most kernels.
modprobe loop 2>/dev/null || true
