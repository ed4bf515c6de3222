#!/bin/sh
# Installs what `fossp lab` needs on a Debian 12 controller (run as root; idempotent).
# debootstrap builds the base root, btrfs-progs the pool, iproute2 the network,
# openssh-client reaches the hosts, apt-utils indexes the local package repository,
# util-linux and mount give nsenter, unshare and loop mounts.
set -eu

PACKAGES="debootstrap debian-archive-keyring btrfs-progs iproute2 openssh-client apt-utils util-linux mount ca-certificates"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
fi

# Loop devices back the lab's BTRFS pool; the module is built in on most kernels.
modprobe loop 2>/dev/null || true
